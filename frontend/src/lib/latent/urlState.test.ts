import assert from "node:assert/strict";
import { test } from "node:test";
import { nearestEpoch, readUrlState, substitutions, writeUrlState } from "./urlState";
import type { ExplorerUrlState } from "./urlState";

test("the explorer's view survives a trip through the address", () => {
  const state: ExplorerUrlState = {
    method: "umap", dims: 3, epoch: 7, colour: "component", overlay: "posterior", edges: "all", mode: "top_k", radius: 1.5,
    focus: ["heldout:12", "train:3"], filter: "label:4 pred:!4",
    camera: { target: [0.12345, -0.5, 0], zoom: 8.25, rotationX: 25, rotationOrbit: 35.5 },
    changes: "learning", changeColour: "off", digits: "on",
  };
  const query = writeUrlState(state);
  assert.match(query, /focus=heldout:12,train:3/, "keys stay readable in the address");
  const back = readUrlState(`?${query}`);
  assert.deepEqual(back.problems, []);
  assert.deepEqual(back.state, { ...state, camera: { ...state.camera!, target: [0.1235, -0.5, 0] } });
  assert.equal(writeUrlState({ method: "pca", dims: 2, edges: "focused" }, { dims: 2, edges: "focused" }), "method=pca", "defaults stay out");
  assert.deepEqual(readUrlState("").state, {});
  assert.equal(writeUrlState({ changes: "off", digits: "auto" }, { changes: "off", digits: "auto" }), "", "modes at their defaults stay out");
});

test("the difference and digits modes are read only from their own words", () => {
  const { state, problems } = readUrlState("?changes=whole&digits=sometimes&changeColour=yes");
  assert.deepEqual(state, { changes: "whole" });
  assert.deepEqual(problems.map((p) => p.split(" is ")[0]), ["changeColour=yes", "digits=sometimes"]);
  assert.ok(problems.includes("digits=sometimes is not auto, on or off"));
});

test("malformed parts are dropped and named, the rest is kept", () => {
  const { state, problems } = readUrlState("?method=../x&dims=4&epoch=-1&radius=9&edges=some&focus=heldout:1,evil&camera=1,2&colour=label");
  assert.deepEqual(state, { colour: "label" });
  assert.equal(problems.length, 7);
  assert.ok(problems.some((p) => p.startsWith("dims=4 is not 2 or 3")));
  assert.ok(problems.some((p) => p.startsWith("camera=1,2 is not")));
});

test("an unknown method or epoch opens the nearest valid view with a note", () => {
  const shown = { method: "pca", dims: 2, epoch: 5, methods: ["pca", "umap"], epochs: [1, 2, 3, 4, 5] };
  assert.deepEqual(substitutions({ method: "tsne", epoch: 5 }, shown), ["this run has no tsne projection (it has pca, umap): showing pca"]);
  assert.deepEqual(substitutions({ epoch: 99 }, shown), ["no pca 2-D map at epoch 99 (epochs 1–5): showing epoch 5"]);
  assert.deepEqual(substitutions({ method: "pca", dims: 2, epoch: 5 }, shown), []);
  assert.equal(nearestEpoch([1, 3, 5, 7], 4), 5);
  assert.equal(nearestEpoch([1, 3], 99), 3);
  assert.equal(nearestEpoch([], 2), null);
});
