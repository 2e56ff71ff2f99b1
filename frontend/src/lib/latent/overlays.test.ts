// Unit tests of the overlay colours and words (src/lib/overlays.ts): zero is transparent on the sequential
// scale, the sequential and signed ramps cannot be taken for a digit colour, grids that reach past the points
// fade out, and a grid's legend reads its own words (or generic ones for older files).
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  BELOW_GREY, composited, edgeFade, greenRamp, legendGradient, MAP_BACKGROUND, OVERLAY_GREEN, overlayColour, overlayScale,
  overlayText, signedColour,
} from "../overlays";
import type { GridDoc } from "../overlays";
import { DIGIT_PALETTE, hexToRgb, viridis } from "./colour";
import type { RGB } from "./colour";
import { deltaE2000, lab, minPairDifference, simulate } from "./colourScience";
import type { Vision } from "./colourScience";

const VISIONS: Vision[] = ["normal", "protan", "deutan", "tritan"];
const DIGITS = DIGIT_PALETTE.map(hexToRgb);
const STATS = { min: 0, max: 1 };

/** The smallest CIEDE2000 difference between ``colour`` and any digit colour, over the four visions. */
function closestDigit(colour: RGB): { value: number; digit: number; vision: Vision } {
  let best = { value: Infinity, digit: -1, vision: "normal" as Vision };
  for (const vision of VISIONS) {
    const seen = lab(simulate(colour, vision));
    DIGITS.forEach((digit, k) => {
      const value = deltaE2000(seen, lab(simulate(digit, vision)));
      if (value < best.value) best = { value, digit: k, vision };
    });
  }
  return best;
}

const paletteGap = Math.min(...VISIONS.map((v) => minPairDifference(DIGITS, v).value));

test("zero is transparent on the sequential scale, and the legend starts with the map's own background", () => {
  for (const value of [0, -1, null, Number.NaN]) assert.equal(overlayColour(false, value, STATS)[3], 0, `${value} draws nothing`);
  assert.ok(overlayColour(false, 1e-4, STATS)[3] > 0, "the faintest mass is drawn (faintly)");
  assert.equal(overlayColour(false, 1, STATS)[3], 255);
  const first = /rgb\((\d+), (\d+), (\d+)\) 0%/.exec(legendGradient("sequential"))!;
  assert.deepEqual(first.slice(1).map(Number), MAP_BACKGROUND, "0 in the legend looks like the empty map");
  assert.equal(signedColour(0, 1)[3], 0, "zero on a signed grid draws nothing");
});

test("every sequential colour, as drawn on the map, is as far from each digit colour as the digits are from each other", () => {
  assert.ok(paletteGap >= 11, `the palette's own smallest gap is ${paletteGap.toFixed(1)}`);
  for (const opacity of [0.5, 0.85, 1]) {
    for (let i = 1; i <= 40; i++) {
      const t = i / 40;
      const seen = composited(overlayColour(false, t * t, STATS), opacity);
      const near = closestDigit(seen);
      assert.ok(near.value >= 11, `green ${t} at opacity ${opacity} is ${near.value.toFixed(1)} from digit ${near.digit} (${near.vision})`);
    }
  }
  // viridis, the old ramp, ends in the yellow of the nines: the same check fails for it
  const old = closestDigit(viridis(1));
  assert.ok(old.value < 11 && old.digit === 9, `viridis(1) is ${old.value.toFixed(1)} from digit ${old.digit}`);
  assert.deepEqual(greenRamp(1), OVERLAY_GREEN);
});

test("the signed ramp's two sides stay apart from the digits and from each other", () => {
  for (let i = -40; i <= 40; i++) {
    if (i === 0) continue;
    const seen = composited(signedColour(i / 40, 1), 0.85);
    const near = closestDigit(seen);
    assert.ok(near.value >= 11, `signed ${i / 40} is ${near.value.toFixed(1)} from digit ${near.digit} (${near.vision})`);
  }
  for (const vision of VISIONS) {
    const gap = deltaE2000(lab(simulate(OVERLAY_GREEN, vision)), lab(simulate(BELOW_GREY, vision)));
    assert.ok(gap >= 12, `green and grey are ${gap.toFixed(1)} apart in ${vision} vision`);
  }
  assert.ok(signedColour(0.5, 1)[1] > signedColour(0.5, 1)[0], "positive is green");
  const grey = signedColour(-0.5, 1);
  assert.ok(Math.max(...grey.slice(0, 3)) - Math.min(...grey.slice(0, 3)) <= 1.5, "negative is grey");
});

test("a grid that reaches past the points fades out over its outer cells, smoothly", () => {
  const n = 160;
  assert.equal(edgeFade(80, n), 1);
  assert.ok(edgeFade(0, n) < 0.02 && edgeFade(n - 1, n) < 0.02, "the outermost cells are nearly transparent");
  let previous = 0;
  for (let i = 0; i < n / 2; i++) {
    const f = edgeFade(i, n);
    assert.ok(f >= previous && f - previous < 0.2, `no step at cell ${i}`);
    previous = f;
  }
});

const grid = (more: Partial<GridDoc>): GridDoc => ({
  epoch: 1, method: "pca", grid: { nx: 1, ny: 1, cell_area: 1 }, bounds: [[0, 1], [0, 1]], values: [0.5],
  stats: { min: 0, max: 1 }, meta: { subset_n: 10, compute_ms: 1 }, ...more,
});

test("a grid's legend reads the file's own label, scale, reading, ends, notes and distances", () => {
  const doc = grid({ label: "heat of the codes", scale: "signed", reading: "Orange: more.", ends: ["fewer", "more"],
    notes: ["computed by hand"], tv_distance: { other_kind: 0.25 }, metric: "ignored: the file says its scale" });
  assert.deepEqual(overlayText(doc, "heat"), {
    scale: "signed", label: "heat of the codes", reading: "Orange: more.", ends: ["fewer", "more"],
    notes: ["computed by hand"], tv: { other_kind: 0.25 },
  });
  assert.equal(overlayScale({ scale: "ratio" }), "ratio");
  assert.equal(overlayScale({ scale: "rainbow" as never }), "sequential", "an unknown scale is not drawn as one");
});

test("an older file without those fields gets its scale from its fields and generic words naming no generator", () => {
  const ratio = overlayText(grid({ metric: "mean_ratio", metric_text: "a / b" }), "metric_ratio");
  assert.equal(ratio.scale, "ratio");
  assert.equal(ratio.label, "metric ratio", "the kind's own name, prettified");
  assert.deepEqual(ratio.notes, ["Formula: a / b"]);
  assert.deepEqual(ratio.ends, ["low", "high"]);
  const signed = overlayText(grid({ difference: { subtrahend: "baseline", tv_distance: 0.4 } }), "a_minus_b");
  assert.equal(signed.scale, "signed");
  assert.deepEqual(signed.tv, { baseline: 0.4 }, "the distance an older signed file kept in its own section");
  const plain = overlayText(grid({ estimator_text: "a kernel estimate" }), "counts");
  assert.equal(plain.scale, "sequential");
  assert.deepEqual([plain.label, plain.reading, plain.notes, plain.tv], ["counts", "Greener = higher.", ["a kernel estimate"], {}]);
});
