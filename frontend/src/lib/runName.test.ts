import assert from "node:assert/strict";
import { test } from "node:test";
import { runLabel, runName, startedOf } from "./runName";

test("a run is called by its name, else its preset, else its id, with its start time", () => {
  const id = "20261207-155144-db9a35";
  assert.equal(runName({ run_id: id, name: "my run", preset: "ae-quick" }), "my run");
  assert.equal(runName({ run_id: id, name: "  ", preset: "gmvae-spec" }), "gmvae-spec");
  assert.equal(runName({ run_id: id }), id);
  assert.equal(startedOf(id), "7 Dec 15:51");
  assert.equal(startedOf("run-a"), null);
  assert.equal(runLabel({ run_id: id, preset: "gmvae-spec" }), "gmvae-spec · 7 Dec 15:51");
  assert.equal(runLabel({ run_id: id }), id);
});
