// Unit tests of matched component colours and the cluster files in the catalogue (npm run test:unit;
// tests/test_ui_unit.py runs them with the rest).
import assert from "node:assert/strict";
import { test } from "node:test";
import { catalogueOf, scoreEpochs } from "./catalogue";
import { categoryColour, DIGIT_PALETTE, hexToRgb } from "./colour";
import { deltaE2000, lab, simulate } from "./colourScience";
import type { Vision } from "./colourScience";
import { byMatchedDigit, componentColour, componentLegend, componentName, mappingNote, mappingOf, NEUTRAL_PALETTE } from "./matching";
import type { ClusterScores, ComponentMatch } from "./matching";
import { colourBuffer } from "./points";
import { normalise } from "../artifacts";
import type { ProjectionDoc } from "./points";

const CLASSES = Array.from({ length: 10 }, (_, i) => String(i));

/** A cluster-scores file as any provider writes it: the rows the explorer reads, and the provider's own scores. */
function quality(epoch: number, matching: ComponentMatch[]): ClusterScores {
  return { epoch, component_matching: matching, scores: { accuracy: 0.9, matching: [] }, classifier: null };
}

const row = (component: number, digit: number | null, count = 10, purity: number | null = 0.9): ComponentMatch =>
  ({ component, digit, count, correct: Math.round(count * (purity ?? 0)), purity });

test("a component takes its matched digit's colour; the legend names the digit and the purity", () => {
  const m = mappingOf(quality(15, [row(0, 2), row(1, 0), row(2, 1, 50, 0.96)]));
  assert.ok(m);
  assert.deepEqual(componentColour(m, 2), categoryColour(1), "c2 holds the ones: the ones' colour, not digit 2's");
  assert.deepEqual(componentColour(m, 0), categoryColour(2));
  assert.equal(componentName(m, 2, CLASSES), "c2 → 1");
  assert.equal(componentLegend(m, 2, CLASSES), "c2 → 1 (purity 96 %)");
  assert.deepEqual(byMatchedDigit(m, [0, 1, 2]), [1, 2, 0], "ordered by matched digit 0, 1, 2");
  assert.match(mappingNote(m, null, "r"), /colours matched at epoch 15/);
});

test("the colour mapping chosen once stays the same whatever epoch is shown", () => {
  // the page keeps the mapping of the file it chose (the latest); colouring another epoch's points with it
  // gives a component the same colour at every epoch, even where that epoch's own matching differs
  const latest = mappingOf(quality(15, [row(0, 7), row(1, 3), row(2, 5)]));
  const early = mappingOf(quality(2, [row(0, 3), row(1, 7), row(2, 5)]));
  const doc = (epoch: number): ProjectionDoc => normalise({
    epoch, method: "pca", dims: 2, n: 3, latent: "z", latent_dim: 2, indices: [1, 2, 3], labels: [7, 3, 5],
    component: [0, 1, 2], coords: [[0, 0], [1, 1], [2, 2]], bounds: [[0, 2], [0, 2]],
  }) as unknown as ProjectionDoc;
  const look = { by: "component" as const, sheet: null, hidden: new Set<string>(), focus: null, filter: null, mapping: latest };
  const at2 = colourBuffer(doc(2), look), at15 = colourBuffer(doc(15), look);
  assert.deepEqual([...at2], [...at15], "same colours at epoch 2 and 15");
  assert.deepEqual([...at2.slice(0, 3)], categoryColour(7), "c0 drawn in digit 7's colour (the latest matching)");
  assert.notDeepEqual(componentColour(early, 0), componentColour(latest, 0), "a per-epoch matching would have changed it");
  const plain = colourBuffer(doc(2), { ...look, mapping: null });
  assert.deepEqual([...plain.slice(0, 3)], categoryColour(0), "without a cluster file: today's colours (component number)");
});

test("unmatched components (K > classes, or holding no digits) get neutral colours no digit uses", () => {
  const rows = [...Array.from({ length: 10 }, (_, d) => row(d, 9 - d)), row(10, null, 4, 0.5), row(11, null, 0, null), row(12, 3, 0, null)];
  const m = mappingOf(quality(5, rows));
  assert.ok(m);
  for (const c of [10, 11, 12]) {
    const colour = componentColour(m, c);
    assert.ok(NEUTRAL_PALETTE.map(hexToRgb).some((n) => n.every((v, i) => v === colour[i])), `c${c} is neutral`);
  }
  assert.equal(componentLegend(m, 10, CLASSES), "c10 (unmatched: no digit left for it)");
  assert.equal(componentLegend(m, 11, CLASSES), "c11 (unmatched: holds no digits)");
  assert.equal(componentLegend(m, 12, CLASSES), "c12 (unmatched: holds no digits)", "a dead component is not called a 3");
  assert.deepEqual(byMatchedDigit(m, [12, 0, 11, 9, 10]), [9, 0, 10, 11, 12]);
  const neutral = NEUTRAL_PALETTE.map(hexToRgb), digits = DIGIT_PALETTE.map(hexToRgb);
  for (const vision of ["normal", "protan", "deutan", "tritan"] as Vision[]) {
    for (const n of neutral) {
      const nearest = Math.min(...digits.map((d) => deltaE2000(lab(simulate(n, vision)), lab(simulate(d, vision)))));
      assert.ok(nearest >= 11, `${vision}: a neutral colour is ${nearest.toFixed(1)} from a digit colour (want ≥ 11)`);
    }
  }
});

test("without component scores there is no mapping, and the note says why", () => {
  assert.equal(mappingOf(null), null);
  const noLabels: ClusterScores = { ...quality(3, []), component_matching: null, note: "this dataset has no labels" };
  assert.equal(mappingOf(noLabels), null, "an explicit null is not read from another section");
  assert.match(mappingNote(null, { epoch: 4, component_matching: null }, "run-1"), /epoch 4 matches no components/);
  assert.equal(mappingNote(null, null, "run-1"), "colours not matched (no cluster file: run latentdeck backfill run-1)");
  assert.equal(mappingNote(null, noLabels, "run-1"), "colours not matched: this dataset has no labels");
  assert.equal(componentLegend(null, 4, CLASSES), "c4");
});

test("a file written before component_matching is read from whichever section holds a matching", () => {
  const older: ClusterScores = { epoch: 2, n: 5, classifier: null, components_section: { accuracy: 0.5, matching: [row(1, 3), row(0, 7)] } };
  const m = mappingOf(older)!;
  assert.deepEqual([...m.digitOf], [[0, 7], [1, 3]], "the older file's rows, sorted by component");
  assert.equal(mappingOf({ epoch: 2, n: 5, classifier: { accuracy: 1 } }), null, "no section with a matching: none");
});

test("the catalogue lists the epochs with cluster scores, ignores the _latest mirrors and keeps every name once", () => {
  const row = (name: string, artifact: string, epoch: number | null, role: string | null = "cluster-scores") =>
    ({ name, artifact, kind: "artifacts", epoch, latest: epoch === null, method: null, dims: null, fields: {}, role });
  const c = catalogueOf([row("scores/q_epoch_3.json", "q", 3), row("scores/q_epoch_1.json", "q", 1),
    row("scores/q_latest.json", "q", null), row("scores/means_epoch_2.json", "means", 2, null),
    row("scores/means_epoch_2.png", "means", 2, null), row("scores/q_epoch_3.json", "q", 3)]);
  assert.deepEqual(scoreEpochs(c), [1, 3]);
  assert.deepEqual(c.files.map((r) => r.name), ["scores/q_epoch_3.json", "scores/q_epoch_1.json", "scores/q_latest.json",
    "scores/means_epoch_2.json", "scores/means_epoch_2.png"]);
  assert.equal(c.overlays.size, 0, "cluster scores are not offered as map overlays");
});
