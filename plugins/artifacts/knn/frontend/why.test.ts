import assert from "node:assert/strict";
import { test } from "node:test";
import type { NeighboursDoc, ProjectionDoc } from "@latentdeck/view-kit/explorer";
import { modelAnswer, neighbourRows, tally, whereItSits } from "./why";

// the files as the view kit hands them over: typed arrays, 2-D arrays as {data, rows, cols}
const matrix = (rows: number[][]) => ({ data: Float32Array.from(rows.flat()), rows: rows.length, cols: rows[0].length });
const doc = {
  method: "pca", dims: 2, epoch: 1, n: 4, indices: Int32Array.from([10, 11, 12, 13]), labels: Uint8Array.from([4, 9, 9, 4]),
  predicted: Uint8Array.from([9, 9, 9, 4]), coords: matrix([[0, 0], [1, 0], [0, 1], [1, 1]]), split: ["heldout", "train", "heldout", "heldout"],
} as unknown as ProjectionDoc;
const knn = { n: 4, k: 3, neighbors: { ...matrix([[1, 2, 3], [2, 0, 3], [1, 0, 3], [0, 1, 2]]), data: Uint16Array.from([1, 2, 3, 2, 0, 3, 1, 0, 3, 0, 1, 2]) },
  distances: matrix([[0.5, 0.75, 2], [0.125, 0.5, 1], [0.125, 0.75, 1], [2, 1, 1]]) } as unknown as NeighboursDoc;
const name = (c: number) => String(c);

test("neighbour rows come from the kNN file in its order, with the map's columns", () => {
  const rows = neighbourRows(knn, doc, 0)!;
  assert.deepEqual(rows.map((r) => [r.rank, r.index, r.split, r.label, r.predicted, r.distance]),
    [[1, 11, "train", 9, 9, 0.5], [2, 12, "heldout", 9, 9, 0.75], [3, 13, "heldout", 4, 4, 2]]);
  assert.equal(neighbourRows({ ...knn, n: 5 } as NeighboursDoc, doc, 0), null, "a kNN file of another subset does not fit");
  assert.deepEqual(tally([9, 4, 9, 7, 4, 9]), [[9, 3], [4, 2], [7, 1]]);
});

test("where it sits is read off the neighbours' labels", () => {
  const rows = neighbourRows(knn, doc, 0)!;
  assert.match(whereItSits(4, rows, name), /labelled 4, but 2 of its 3 nearest neighbours are 9s/);
  const same = rows.map((r) => ({ ...r, label: 4 }));
  assert.match(whereItSits(4, same, name), /All 3 of its nearest neighbours in latent space are 4s/);
  const edge = [...rows.slice(0, 1), ...same.slice(1)];
  assert.match(whereItSits(4, edge, name), /2 of its 3 nearest neighbours are 4s like it \(others: 1 9\)/);
  const mixed = [{ ...rows[0], label: 1 }, { ...rows[1], label: 2 }, { ...rows[2], label: 4 }];
  assert.match(whereItSits(4, mixed, name), /Only 1 of its 3 nearest neighbours are 4s/);
});

test("the model's answer: the classifier's probabilities, else q(c|x)", () => {
  const ae = modelAnswer({ softmax: matrix([[0.1, 0.9], [0.7, 0.3]]) } as never, 0, 0, name, (c) => `c${c}`)!;
  assert.equal(ae.kind, "classifier");
  assert.equal(ae.best, 1);
  assert.match(ae.text, /says 1 with probability 0.90 \(disagrees with the label 0\)/);
  const gm = modelAnswer({ qc: matrix([[0.4, 0.35, 0.25]]) } as never, 0, 0, name, (c) => `c${c}`)!;
  assert.match(gm.text, /puts it in c0 with 0.40\. It is split between components/);
  assert.equal(modelAnswer(null, 0, 0, name, name), null);
  const old = modelAnswer({ softmax_max: Float32Array.from([0.97]) } as never, 0, 7, name, name, 7)!;
  assert.deepEqual([old.kind, old.best, old.probabilities], ["classifier", 7, []]);
  assert.match(old.text, /says 7 with probability 0.97 \(agrees with the label\); this run's atlas predates/);
});
