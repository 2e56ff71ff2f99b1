// Unit tests of the run page's charts: scales that never produce NaN (constant, single-point, empty and
// non-finite series), ticks that read differently, where phases fall on the epoch axis, which charts the
// metrics make (the applied loss weights, inactive options), and phases kept from the model.phases event.
import assert from "node:assert/strict";
import { test } from "node:test";
import { linear, nearestEpoch, niceTicks, phaseExtent, tickLabel, valueAt, xDomainOf, yDomainOf } from "./chartScale";
import type { Domain } from "./chartScale";
import type { Phase } from "./phases";
import { chartSpecs, inactiveSummary, metricValue, seriesPoints } from "./runCharts";
import type { Metrics, RunEvent } from "./runState";
import { applyEvents, initialRunState } from "./runState";

function assertReadable(domain: Domain, values: number[]) {
  const [lo, hi] = domain;
  assert.ok(Number.isFinite(lo) && Number.isFinite(hi) && hi > lo, `a finite, non-empty range: ${lo}..${hi}`);
  for (const v of values) assert.ok(v >= lo && v <= hi, `${v} inside ${lo}..${hi}`);
  const { ticks, step } = niceTicks(domain);
  assert.ok(ticks.length >= 2, `at least two ticks on ${lo}..${hi}: ${ticks}`);
  const labels = ticks.map((t) => tickLabel(t, step));
  assert.equal(new Set(labels).size, labels.length, `tick labels differ: ${labels.join(", ")}`);
  const sy = linear(domain, 144, 10);
  for (const v of [...values, ...ticks]) assert.ok(Number.isFinite(sy(v)), `${v} maps to a finite pixel`);
}

test("a constant 0 series (an entropy bonus that is off) gets -1..1 with the line in the middle", () => {
  const domain = yDomainOf([0, 0, 0, 0]);
  assert.deepEqual(domain, [-1, 1]);
  assertReadable(domain, [0]);
  assert.equal(linear(domain, 144, 10)(0), 77);
});

test("constant and nearly flat series get a readable range around them, ticks that differ", () => {
  for (const c of [1, -3, 0.25, 1e-7, -2.5e-9, 7e6, 1e-300]) assertReadable(yDomainOf([c, c, c]), [c]);
  assertReadable(yDomainOf([1, 1.0001, 0.9999]), [1, 1.0001, 0.9999]);
  assertReadable(yDomainOf([100, 100.5]), [100, 100.5]);
});

test("a single point is a readable range around it; no values give 0..1; non-finite values are ignored", () => {
  const one = yDomainOf([0.42]);
  assertReadable(one, [0.42]);
  assert.ok(one[0] < 0.42 && one[1] > 0.42, "the point is inside, not on the edge");
  assert.deepEqual(yDomainOf([]), [0, 1]);
  assert.deepEqual(yDomainOf([NaN, Infinity, -Infinity]), [0, 1]);
  assertReadable(yDomainOf([NaN, 2, Infinity, 3]), [2, 3]);
});

test("a fixed range is used when usable, else the data decides", () => {
  assert.deepEqual(yDomainOf([2, 3], [1, 10]), [1, 10]);
  assertReadable(yDomainOf([2, 3], [5, 5]), [2, 3]);
  assertReadable(yDomainOf([2, 3], [NaN, 1]), [2, 3]);
});

test("a varying series gets 6 % headroom on both sides", () => {
  const [lo, hi] = yDomainOf([0, 10]);
  assert.ok(Math.abs(lo + 0.6) < 1e-12 && Math.abs(hi - 10.6) < 1e-12, `${lo}..${hi}`);
});

test("the epoch axis runs from 0 to the planned epochs, never empty, and covers every point", () => {
  assert.deepEqual(xDomainOf(0), [0, 1]);
  assert.deepEqual(xDomainOf(NaN), [0, 1]);
  assert.deepEqual(xDomainOf(15), [0, 15]);
  assert.deepEqual(xDomainOf(3, [1, 2, 4.5, NaN]), [0, 4.5]);
  assert.equal(linear([0, 1], 48, 310)(NaN), 48, "a NaN input never leaves the scale");
});

test("nice ticks are round and inside the range", () => {
  assert.deepEqual(niceTicks([0, 15], 6).ticks, [0, 5, 10, 15]);
  const { ticks, step } = niceTicks([0.95, 1.05]);
  assert.equal(step, 0.05);
  assert.deepEqual(ticks.map((t) => tickLabel(t, step)), ["0.95", "1.00", "1.05"]);
});

const phases: Phase[] = [
  { name: "pretraining", label: "pretraining", kind: "span", start: 1, end: 8, text: "KL weights 0" },
  { name: "prior_init", label: "prior initialised", kind: "moment", start: 9, end: 9, text: "" },
  { name: "qc_held", label: "q(c|x) held", kind: "span", start: 9, end: 15, text: "" },
];

test("phases on the epoch axis: a span covers start-1..end, a moment sits between its two epochs, clipped", () => {
  assert.deepEqual(phaseExtent(phases[0], [0, 15]), { from: 0, to: 8 });
  assert.deepEqual(phaseExtent(phases[1], [0, 15]), { from: 8, to: 8 });
  assert.deepEqual(phaseExtent(phases[2], [0, 12]), { from: 8, to: 12 });
  assert.equal(phaseExtent(phases[1], [0, 5]), null, "a moment after the axis ends is not drawn");
});

test("legend values at an epoch and the nearest epoch to a hover", () => {
  const pts = [{ x: 1, y: 3 }, { x: 2, y: 5 }];
  assert.equal(valueAt(pts, 2), 5);
  assert.equal(valueAt(pts, 3), null);
  assert.equal(nearestEpoch([1, 2, 3], 2.4), 2);
  assert.equal(nearestEpoch([], 2.4), null);
});

const m = (epoch: number, extra: Record<string, unknown>): Metrics => ({ epoch, epochs: 4, loss: 10 - epoch, lr: 0.001, ...extra });

test("the applied loss weights make one chart; diagnostics that repeat them are not charted again", () => {
  const metrics = [1, 2].map((e) => m(e, {
    reconstruction: 5, kld_c: e === 1 ? 0 : 2, loss_weights: { reconstruction: 1, kld_c: e === 1 ? 0 : 1, qc_usage_entropy: 0 },
    cat_kl_weight: e === 1 ? 0 : 1, entropy_bonus_weight: 0, qc_pmax: 0.3,
  }));
  const specs = chartSpecs(metrics, { plannedEpochs: 4 });
  const keys = specs.map((s) => s.key);
  assert.deepEqual(keys.slice(0, 2), ["loss", "loss_weights"], "the loss, then the weights that make it");
  assert.ok(!keys.includes("cat_kl_weight") && !keys.includes("entropy_bonus_weight"), keys.join(", "));
  const weights = specs.find((s) => s.key === "loss_weights")!;
  assert.deepEqual(weights.series.map((s) => s.label), ["reconstruction", "kld_c", "qc_usage_entropy"]);
  assert.deepEqual(seriesPoints(metrics, "loss_weights.kld_c"), [{ x: 1, y: 0 }, { x: 2, y: 1 }]);
  assert.equal(metricValue(metrics[0], "loss_weights.missing"), null);
  assert.deepEqual(weights.series.map((s) => !!s.inactive), [false, false, true], "only the weight at 0 throughout is off");
  assert.ok(!weights.inactive);
});

test("a chart whose series are 0 in every epoch is inactive; the summary counts what the toggle hides", () => {
  const metrics = [1, 2, 3].map((e) => m(e, { bonus_term: 0, heldout_bonus_term: 0, qc_pmax: 0.5, loss_weights: { reconstruction: 1, extra: 0 } }));
  const specs = chartSpecs(metrics, { plannedEpochs: 3, ended: true });
  assert.ok(specs.find((s) => s.key === "bonus_term")!.inactive);
  assert.ok(!specs.find((s) => s.key === "qc_pmax")!.inactive, "a constant non-zero diagnostic stays");
  assert.ok(!specs.find((s) => s.key === "loss")!.inactive);
  assert.deepEqual(inactiveSummary(specs), { charts: 1, series: 1, text: "1 chart and 1 series of options that are off (0 in every epoch)" });
  assert.equal(inactiveSummary(chartSpecs([m(1, { a: 1 })])).text, "");
});

test("zeros are not judged 'off' while a phase that ends before the run does is current, or one is still to come", () => {
  const metrics = [1, 2, 3].map((e) => m(e, { loss_weights: { reconstruction: 1, kld_z: 0 } }));
  const inactive = (opts: Parameters<typeof chartSpecs>[1]) =>
    chartSpecs(metrics, opts).find((s) => s.key === "loss_weights")!.series.find((s) => s.label === "kld_z")!.inactive ?? false;
  assert.equal(inactive({ phases, plannedEpochs: 15 }), false, "pretraining 1..8 holds the weight at 0 for now");
  assert.equal(inactive({ phases, plannedEpochs: 15, ended: true }), true, "the run ended: 0 throughout is off");
  assert.equal(inactive({ phases: [], plannedEpochs: 15 }), true, "no phase: 0 so far is off");
  const later = [phases[2]]; // held from epoch 9 to the end: still to come at epoch 3
  assert.equal(inactive({ phases: later, plannedEpochs: 15 }), false);
  const toTheEnd: Phase[] = [{ ...phases[2], start: 1 }]; // current, but lasts the whole run
  assert.equal(inactive({ phases: toTheEnd, plannedEpochs: 15 }), true);
});

test("the run state keeps the model.phases event's phases, dropping malformed ones", () => {
  const event = (seq: number, data: Record<string, unknown>): RunEvent => ({ seq, type: "model.phases", ts: seq, run_id: "r", data });
  let s = applyEvents(initialRunState(), [event(1, { phases: [...phases, { name: 3 }, null] })]);
  assert.deepEqual(s.phases, phases);
  assert.match(s.recent[0].text, /pretraining 1–8, prior initialised before 9/);
  s = applyEvents(s, [event(2, { phases: "nonsense" })]);
  assert.deepEqual(s.phases, []);
});

test("an artifact given up for running past its budget is told apart from one that raised", () => {
  const failed = (seq: number, data: Record<string, unknown>): RunEvent => ({ seq, type: "artifact.failed", ts: seq, run_id: "r", data });
  const s = applyEvents(initialRunState(), [
    failed(1, { generator: "grids", epoch: 2, error: "ran past its budget", reason: "timeout", budget_s: 30 }),
    failed(2, { generator: "graph", epoch: 2, error: "ValueError: bad" }),
  ]);
  assert.deepEqual(s.failures.map((f) => [f.generator, f.overBudget]), [["grids", 30], ["graph", null]]);
});
