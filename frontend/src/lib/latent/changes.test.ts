// Unit tests of the difference mode's pure parts (changes.ts, similarity.ts): neighbourhood change as
// 1 − Jaccard by point key, the headline, and the split of a move into re-orientation and learning.
import assert from "node:assert/strict";
import { test } from "node:test";
import { changeColour, changeColours, changeHeadline, neighbourKeys, matchKeys, matchPoints, neighbourhoodChange, percent, trailSet } from "./changes";
import { normalise } from "../artifacts";
import type { ProjectionDoc } from "./points";
import { applySimilarity, describeMove, fitSimilarity, orthogonalFactor, spanOf, symmetricEigen } from "./similarity";

const close = (a: number, b: number, tol = 1e-9, what = "") => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} is not ${b} (±${tol})`);

function doc(indices: number[], coords: number[][], split?: ("heldout" | "train")[]): ProjectionDoc {
  return normalise({ epoch: 1, method: "pca", dims: coords[0].length, n: indices.length, latent: "z", latent_dim: 4, indices,
    labels: indices.map(() => 0), split: split ?? null, coords, bounds: [] }) as unknown as ProjectionDoc;
}

test("identical neighbour files: no point changed", () => {
  const keys = ["a", "b", "c", "d"];
  const nbrs = [[1, 2], [0, 2], [3, 1], [2, 0]];
  const c = neighbourhoodChange(keys, nbrs, keys, nbrs);
  assert.deepEqual([...c.change], [0, 0, 0, 0]);
  assert.deepEqual([...c.kept], [2, 2, 2, 2]);
  assert.equal(c.compared, 4);
  assert.equal(c.keptFewerThanHalf, 0);
  assert.equal(c.median, 0);
  assert.equal(changeHeadline(c, 4, 5), "0 % of points kept fewer than half their neighbours (epoch 4 → 5)");
});

test("a known Jaccard: {b,c,d} → {c,d,e} is 2 of 4 shared (change 0.5), {b,c,d} → {b,e,f} 1 of 5 (change 0.8)", () => {
  const keys = ["a", "b", "c", "d", "e", "f", "g"];
  const before = [[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2], [5, 6, 0], [4, 6, 0], [4, 5, 0]];
  const after = [[2, 3, 4], [0, 2, 3], [0, 1, 3], [0, 1, 2], [5, 6, 0], [4, 6, 0], [4, 5, 0]];
  after[6] = [1, 4, 5]; // g: {e,f,a} → {b,e,f}: 2 of 4 shared
  after[1] = [1 - 1, 4, 5]; // b: {a,c,d} → {a,e,f}: 1 of 5 shared, kept 1 < 3/2
  const c = neighbourhoodChange(keys, before, keys, after);
  close(c.change[0], 0.5, 1e-12, "a");
  close(c.change[1], 0.8, 1e-12, "b");
  close(c.change[6], 0.5, 1e-12, "g");
  assert.deepEqual([...c.kept], [2, 1, 3, 3, 3, 3, 2]);
  assert.equal(c.keptFewerThanHalf, 1, "only b kept fewer than half (2 of 3 is more than half)");
  assert.equal(changeHeadline(c, 2, 3), "14 % of points kept fewer than half their neighbours (epoch 2 → 3)");
});

test("points are matched by key, not by their place in the files", () => {
  // the same graph written in another order: nothing changed
  const keysA = ["a", "b", "c", "d"], nbrsA = [[1, 2], [0, 3], [0, 3], [1, 2]];
  const keysB = ["d", "c", "b", "a"], nbrsB = [[2, 1], [0, 3], [3, 0], [2, 1]];
  const c = neighbourhoodChange(keysA, nbrsA, keysB, nbrsB);
  assert.deepEqual([...c.change], [0, 0, 0, 0]);
  // a point only in the current file is not compared; its neighbours that are new count as new
  const d = neighbourhoodChange(["a", "b", "c"], [[1, 2], [0, 2], [0, 1]], ["x", "a", "b", "c"], [[1, 2], [0, 2], [1, 3], [1, 2]]);
  assert.ok(Number.isNaN(d.change[0]));
  assert.equal(d.kept[0], -1);
  close(d.change[1], 1 - 1 / 3, 1e-12, "a: {b,c} → {x,b}");
  assert.equal(d.compared, 3);
  const m = matchKeys(["a", "b", "c"], ["c", "x", "a"]);
  assert.deepEqual([...m.shownAt], [0, 2]);
  assert.deepEqual([...m.previousAt], [2, 0]);
});

test("kNN rows take the projection file's keys (training digits too) when it lists the same subset", () => {
  const p = doc([5, 5, 7], [[0, 0], [1, 1], [2, 2]], ["heldout", "train", "heldout"]);
  assert.deepEqual(neighbourKeys({ indices: Int32Array.from([5, 5, 7]) }, p), ["heldout:5", "train:5", "heldout:7"]);
  assert.deepEqual(neighbourKeys({ indices: Int32Array.from([7, 5]) }, p), ["heldout:7", "heldout:5"], "another subset: held-out indices");
  const prev = doc([7, 5, 5], [[0, 0], [1, 1], [2, 2]], ["heldout", "train", "heldout"]);
  const m = matchPoints(prev, p);
  assert.deepEqual([...m.shownAt], [0, 1, 2]);
  assert.deepEqual([...m.previousAt], [2, 1, 0]);
});

test("percentages never round a few points to none or all", () => {
  assert.equal(percent(1, 500), "< 1 %");
  assert.equal(percent(499, 500), "> 99 %");
  assert.equal(percent(19, 50), "38 %");
  assert.equal(percent(0, 0), "–");
});

test("change colours run from blue-grey (same neighbours) to crimson (all new), keeping each point's alpha", () => {
  assert.deepEqual(changeColour(0), [128, 146, 170]);
  assert.deepEqual(changeColour(0.5), [230, 159, 0]);
  assert.deepEqual(changeColour(1), [176, 0, 58]);
  assert.deepEqual(changeColour(NaN), [150, 150, 150]);
  const out = changeColours(Uint8Array.from([1, 2, 3, 220, 4, 5, 6, 26]), Float64Array.from([1]), Int32Array.from([-1, 0]));
  assert.deepEqual([...out], [150, 150, 150, 220, 176, 0, 58, 26]);
});

test("small symmetric eigenproblems and the orthogonal factor are exact", () => {
  const { values, vectors } = symmetricEigen([[2, 1, 0], [1, 2, 0], [0, 0, 5]]);
  [5, 3, 1].forEach((v, i) => close(values[i], v, 1e-12, `eigenvalue ${i}`));
  close(Math.abs(vectors[0][1]), Math.SQRT1_2, 1e-12, "the eigenvector of 3 is (1, 1, 0)/√2");
  const r = orthogonalFactor([[0, -2], [2, 0]]); // 2 × a quarter turn
  close(r.rotation[1][0], 1, 1e-12); close(r.rotation[0][1], -1, 1e-12); close(r.traceSigma, 4, 1e-12);
});

const square = [[0, 0], [2, 0], [2, 1], [0, 1], [1, 3]];
const turn = (p: number[], deg: number, s = 1, t = [0, 0]) => {
  const a = (deg * Math.PI) / 180;
  return [s * (Math.cos(a) * p[0] - Math.sin(a) * p[1]) + t[0], s * (Math.sin(a) * p[0] + Math.cos(a) * p[1]) + t[1]];
};

test("identical maps: no re-orientation and no learning", () => {
  const fit = fitSimilarity(square, square, 2);
  close(fit.scale, 1); close(fit.turnDeg, 0); assert.equal(fit.reflection, false);
  assert.ok(fit.residual.every((r) => r < 1e-12));
  assert.equal(fit.explained, 1);
  const words = describeMove(fit, spanOf(square, 2));
  assert.match(words.reorientation, /did not turn, mirror, grow or shift/);
  assert.match(words.learning, /remaining median move is 0 % of the map's extent: that is learning/);
});

test("a turned, grown and shifted copy is all re-orientation with no residual", () => {
  const moved = square.map((p) => turn(p, 30, 1.5, [4, -1]));
  const fit = fitSimilarity(square, moved, 2);
  close(fit.turnDeg, 30, 1e-9, "turn");
  close(fit.scale, 1.5, 1e-12, "scale");
  assert.equal(fit.reflection, false);
  assert.ok(fit.residual.every((r) => r < 1e-9), "no point moves relative to the others");
  close(fit.explained, 1, 1e-12);
  square.forEach((p, i) => applySimilarity(fit, p).forEach((v, a) => close(v, moved[i][a], 1e-9, `point ${i}`)));
  const words = describeMove(fit, spanOf(moved, 2));
  assert.match(words.reorientation, /^The map turned 30° anticlockwise, grew 50 % and shifted \d+ % of its extent: that is re-orientation/);
  assert.match(words.reorientation, /accounts for 100 % of the movement/);
  assert.match(words.learning, /remaining median move is 0 % /);
  const back = fitSimilarity(square, square.map((p) => turn(p, -12, 0.9)), 2);
  close(back.turnDeg, -12, 1e-9);
  assert.match(describeMove(back, 3).reorientation, /turned 12° clockwise, shrank 10 % and shifted \d+ % of its extent/);
});

test("a mirrored copy is a flip, not a turn", () => {
  const flipped = square.map(([x, y]) => [-x, y]); // over the second axis: a line at 90°
  const fit = fitSimilarity(square, flipped, 2);
  assert.equal(fit.reflection, true);
  close(fit.mirrorAxisDeg!, 90, 1e-9); close(fit.turnDeg, 0); close(fit.scale, 1, 1e-12);
  assert.ok(fit.residual.every((r) => r < 1e-9));
  assert.match(describeMove(fit, 3).reorientation, /^The map was mirrored \(flipped over a line at 90° to the first axis\)/);
});

test("3-D: a turn about any axis is found, and a mirror through a plane has no turn", () => {
  const cloud = [[0, 0, 0], [1, 0, 0], [0, 2, 0], [0, 0, 3], [1, 1, 1], [-1, 2, 0.5]];
  const a = (40 * Math.PI) / 180, axis = [1, 2, 2].map((v) => v / 3);
  const [ux, uy, uz] = axis, c = Math.cos(a), s = Math.sin(a), C = 1 - c; // Rodrigues
  const R = [[c + ux * ux * C, ux * uy * C - uz * s, ux * uz * C + uy * s],
    [uy * ux * C + uz * s, c + uy * uy * C, uy * uz * C - ux * s],
    [uz * ux * C - uy * s, uz * uy * C + ux * s, c + uz * uz * C]];
  const turned = cloud.map((p) => R.map((row) => 0.8 * (row[0] * p[0] + row[1] * p[1] + row[2] * p[2]) + 2));
  const fit = fitSimilarity(cloud, turned, 3);
  close(fit.turnDeg, 40, 1e-7, "3-D turn"); close(fit.scale, 0.8, 1e-9, "3-D scale");
  assert.ok(fit.residual.every((r) => r < 1e-9));
  const mirrored = fitSimilarity(cloud, cloud.map(([x, y, z]) => [x, y, -z]), 3);
  assert.equal(mirrored.reflection, true);
  close(mirrored.turnDeg, 0, 1e-6, "a pure mirror");
});

test("learning is what the whole-map transform leaves: one point moving alone carries the residual", () => {
  const grid = [[0, 0], [1, 0], [2, 0], [0, 1], [1, 1], [2, 1], [0, 2], [1, 2], [2, 2]];
  const moved = grid.map((p) => turn(p, 90));
  moved[4] = [moved[4][0] + 0.5, moved[4][1]]; // the centre point also moves on its own
  const fit = fitSimilarity(grid, moved, 2);
  close(fit.turnDeg, 90, 1e-9, "the turn is still found");
  const largest = fit.residual.indexOf(Math.max(...fit.residual));
  assert.equal(largest, 4);
  close(fit.residual[4], 0.5 * (1 - 1 / 9), 1e-9, "its move, less the shift it drags the centre by");
  assert.ok(fit.explained > 0.9 && fit.explained < 1);
  assert.ok(fit.moved[8] > 2 && fit.residual[8] < 0.06, "the whole move of a corner is mostly the turn");
});

test("trails go from each matched point's previous place to its current one, in its colour", () => {
  const m = matchKeys(["a", "b"], ["b", "c", "a"]);
  const previous = Float32Array.from([0, 0, 0, 1, 1, 0]);
  const current = Float32Array.from([5, 5, 0, 6, 6, 0, 7, 7, 0]);
  const colours = Uint8Array.from([10, 20, 30, 255, 0, 0, 0, 255, 40, 50, 60, 26]);
  const t = trailSet(m, previous, current, colours);
  assert.equal(t.count, 2, "one trail per point in both epochs");
  assert.deepEqual([...t.from], [1, 1, 0, 0, 0, 0]);
  assert.deepEqual([...t.to], [5, 5, 0, 7, 7, 0]);
  assert.deepEqual([...t.colours], [10, 20, 30, 210, 40, 50, 60, 26]);
});
