// Unit tests of the cross-filter histograms' pure parts (crossfilter.ts): counting and binning with a
// selection, the confidence column, and the search-box text a bar click writes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { categoryBars, confidenceBars, confidenceColumn, filterablePoints, selectionOf, tenthOf, termState, toggleTerm } from "./crossfilter";
import { matchFilter, parseFilter } from "./filter";
import { normalise } from "../artifacts";
import type { ProjectionDoc, SheetDoc } from "./points";

test("the selection is the filter's matches within the focus", () => {
  assert.equal(selectionOf(null, null), null);
  assert.deepEqual([...selectionOf(new Set([1, 2, 3]), null)!], [1, 2, 3]);
  assert.deepEqual([...selectionOf(null, new Set([4]))!], [4]);
  assert.deepEqual([...selectionOf(new Set([1, 2, 3]), new Set([2, 3, 9]))!], [2, 3]);
});

test("category bars count every value and the selected part of each", () => {
  const labels = [4, 9, 4, 4, 1, 9];
  assert.deepEqual(categoryBars(labels, null), [
    { term: "1", total: 1, selected: 1 }, { term: "4", total: 3, selected: 3 }, { term: "9", total: 2, selected: 2 }]);
  assert.deepEqual(categoryBars(labels, new Set([0, 1, 3])).map((b) => b.selected), [0, 2, 1]);
  assert.deepEqual(categoryBars(labels, new Set()).map((b) => [b.total, b.selected]), [[1, 0], [3, 0], [2, 0]]);
  assert.deepEqual(categoryBars([2, 0, 1], null, (v) => [...v].reverse()).map((b) => b.term), ["2", "1", "0"], "a given order");
});

test("confidence bins are tenths from the uniform guess up, with the filter's edges", () => {
  assert.equal(tenthOf(0.7), 7);
  assert.equal(tenthOf(0.7 - 1e-12), 6);
  assert.equal(tenthOf(0.8999999999999999), 8, "0.8999999999999999 * 10 rounds to 9, but it is below 0.9");
  assert.equal(tenthOf(1), 9, "1 is in the last bin");
  assert.equal(tenthOf(0), 0);
  const values = [1 / 3, 0.35, 0.5, 0.69999, 0.7, 0.8999999999999999, 0.95, 1];
  const bars = confidenceBars(values, 1 / 3, new Set([6, 7]));
  assert.deepEqual(bars.map((b) => b.term), ["0.3-0.4", "0.4-0.5", "0.5-0.6", "0.6-0.7", "0.7-0.8", "0.8-0.9", "0.9-1"]);
  assert.deepEqual(bars.map((b) => b.total), [2, 0, 1, 1, 1, 1, 2]);
  assert.deepEqual(bars.map((b) => b.selected), [0, 0, 0, 0, 0, 0, 2]);
  assert.equal(bars.reduce((a, b) => a + b.total, 0), values.length, "every point in one bin");
  // each bin's count is what its filter term matches
  const points = { indices: values.map((_, i) => i), labels: values.map(() => 0), confidence: values };
  for (const b of bars) assert.equal(matchFilter(parseFilter(`conf:${b.term}`), points)!.size, b.total, b.term);
  assert.equal(confidenceBars([0.05, 0.5], 0.1, null)[0].term, "0-0.1", "a value under the guess widens the range down");
  assert.equal(confidenceBars([NaN, 0.5], 0.1, null).reduce((a, b) => a + b.total, 0), 1, "no value, no bin");
});

function projection(indices: number[]): ProjectionDoc {
  return normalise({ epoch: 1, method: "pca", dims: 2, n: indices.length, latent: "z", latent_dim: 2, indices, labels: indices.map(() => 1),
    coords: indices.map(() => [0, 0]), bounds: [[0, 1], [0, 1]] }) as unknown as ProjectionDoc;
}
/** a sheet as an old inline file had it, read into the in-memory shape */
const sheet = (over: Record<string, unknown>): SheetDoc =>
  normalise({ kind: "reconstructions", n: 2, tile: [28, 28], columns: 2, rows: 1, indices: [7, 8], png: "", ...over }) as unknown as SheetDoc;
const f32 = (v: number[]) => [...Float32Array.from(v)];

test("confidence comes from the reconstruction sheet of the same points: max q(c|x), else max softmax", () => {
  const doc = projection([7, 8]);
  const qc = confidenceColumn(doc, sheet({ qc: [[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]], qc_max: [0.5, 0.8], softmax_max: [0.9, 0.9] }))!;
  assert.deepEqual({ ...qc, values: Array.from(qc.values) }, { values: f32([0.5, 0.8]), floor: 1 / 3, source: "max q(c|x)" });
  const soft = confidenceColumn(doc, sheet({ softmax: [[0.5, 0.5], [1, 0]], softmax_max: [0.5, 1] }))!;
  assert.deepEqual([Array.from(soft.values), soft.floor, soft.source], [[0.5, 1], 0.5, "max softmax"]);
  assert.equal(confidenceColumn(doc, null), null);
  assert.equal(confidenceColumn(doc, sheet({ qc_max: [0.5, 0.8], qc: [[1], [1]], indices: [8, 7] })), null, "other points: no confidence");
  assert.equal(confidenceColumn(projection([7]), sheet({ qc_max: [0.5, 0.8], qc: [[1], [1]] })), null);
  assert.deepEqual(Array.from(filterablePoints(doc, sheet({ softmax_max: [0.2, 0.9] })).confidence!), f32([0.2, 0.9]));
  assert.equal(filterablePoints(doc, null).confidence, null);
});

test("a click replaces the key's term, a modifier-click adds to it, a click on a chosen bar removes it", () => {
  assert.equal(toggleTerm("", "label", "4", false), "label:4");
  assert.equal(toggleTerm("label:4", "label", "7", false), "label:7", "a plain click replaces");
  assert.equal(toggleTerm("label:4", "label", "7", true), "label:4,7", "shift / ctrl adds to the list");
  assert.equal(toggleTerm("label:4,7", "label", "4", false), "label:7", "a chosen bar's click removes it");
  assert.equal(toggleTerm("label:4,7", "label", "7", true), "label:4");
  assert.equal(toggleTerm("label:4", "label", "4", false), "", "the last value gone, the term goes");
  assert.equal(toggleTerm("pred:!4  #12 label:3", "label", "5", false), "pred:!4 #12 label:5", "other terms stay as typed");
  assert.equal(toggleTerm("#12", "predicted", "9", false), "#12 pred:9");
  assert.equal(toggleTerm("l:3", "label", "3", false), "", "aliases are the same key");
  assert.equal(toggleTerm("label:3 label:!4", "label", "5", false), "label:5", "a plain click leaves one term for the key");
});

test("a negated term keeps its sign under modifier-clicks and is replaced by a plain click", () => {
  assert.equal(toggleTerm("label:!4", "label", "4", false), "label:4", "show the dropped value");
  assert.equal(toggleTerm("label:!4", "label", "7", true), "label:!4,7", "drop another");
  assert.equal(toggleTerm("!label:4,7", "label", "4", true), "label:!7", "bring one back");
  assert.equal(toggleTerm("label:!4", "label", "4", true), "", "nothing dropped any more");
});

test("confidence bins toggle as ranges, however the range was typed", () => {
  assert.equal(toggleTerm("label:4", "confidence", "0.9-1", false), "label:4 conf:0.9-1");
  assert.equal(toggleTerm("conf:0.90-1", "confidence", "0.9-1", false), "", "0.90-1 is the bin 0.9-1");
  assert.equal(toggleTerm("conf:0.9-1", "confidence", "0.3-0.4", true), "conf:0.9-1,0.3-0.4");
  assert.equal(toggleTerm("conf:<0.5", "confidence", "0.3-0.4", false), "conf:0.3-0.4");
});

test("the filter text marks which bars it keeps and which it drops, ignoring a broken term", () => {
  const s = termState("label:4,7 pred:x label:!1 comp:2", "label");
  assert.deepEqual([...s.chosen], ["4", "7"]);
  assert.deepEqual([...s.dropped], ["1"]);
  assert.deepEqual([...termState("conf:0.30-0.4,>0.9", "confidence").chosen], ["0.3-0.4", ">0.9"]);
  assert.equal(termState("", "component").chosen.size, 0);
  assert.equal(toggleTerm("label:4 pred:x", "label", "5", true), "label:4,5 pred:x", "a broken term is left for the person to fix");
});
