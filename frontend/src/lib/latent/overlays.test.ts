// Unit tests of the overlay colours (src/lib/overlays.ts): zero density is transparent, the density and
// difference ramps cannot be taken for a digit colour, grids that reach past the points fade out.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  composited, densityRamp, DENSITY_GREEN, differenceColour, edgeFade, isDifferenceMap, legendGradient, MAP_BACKGROUND,
  overlayColour, PRIOR_GREY,
} from "../overlays";
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

test("zero density is transparent, and the legend starts with the map's own background", () => {
  for (const value of [0, -1, null, Number.NaN]) assert.equal(overlayColour(false, value, STATS)[3], 0, `${value} draws nothing`);
  assert.ok(overlayColour(false, 1e-4, STATS)[3] > 0, "the faintest mass is drawn (faintly)");
  assert.equal(overlayColour(false, 1, STATS)[3], 255);
  const first = /rgb\((\d+), (\d+), (\d+)\) 0%/.exec(legendGradient("density"))!;
  assert.deepEqual(first.slice(1).map(Number), MAP_BACKGROUND, "0 in the legend looks like the empty map");
  assert.equal(differenceColour(0, 1)[3], 0, "where posterior and prior agree nothing is drawn");
});

test("every density colour, as drawn on the map, is as far from each digit colour as the digits are from each other", () => {
  assert.ok(paletteGap >= 11, `the palette's own smallest gap is ${paletteGap.toFixed(1)}`);
  for (const opacity of [0.5, 0.85, 1]) {
    for (let i = 1; i <= 40; i++) {
      const t = i / 40;
      const seen = composited(overlayColour(false, t * t, STATS), opacity);
      const near = closestDigit(seen);
      assert.ok(near.value >= 11, `density ${t} at opacity ${opacity} is ${near.value.toFixed(1)} from digit ${near.digit} (${near.vision})`);
    }
  }
  // viridis, the old ramp, ends in the yellow of the nines: the same check fails for it
  const old = closestDigit(viridis(1));
  assert.ok(old.value < 11 && old.digit === 9, `viridis(1) is ${old.value.toFixed(1)} from digit ${old.digit}`);
  assert.deepEqual(densityRamp(1), DENSITY_GREEN);
});

test("the difference ramp's two sides stay apart from the digits and from each other", () => {
  for (let i = -40; i <= 40; i++) {
    if (i === 0) continue;
    const seen = composited(differenceColour(i / 40, 1), 0.85);
    const near = closestDigit(seen);
    assert.ok(near.value >= 11, `difference ${i / 40} is ${near.value.toFixed(1)} from digit ${near.digit} (${near.vision})`);
  }
  for (const vision of VISIONS) {
    const gap = deltaE2000(lab(simulate(DENSITY_GREEN, vision)), lab(simulate(PRIOR_GREY, vision)));
    assert.ok(gap >= 12, `green and grey are ${gap.toFixed(1)} apart in ${vision} vision`);
  }
  assert.ok(differenceColour(0.5, 1)[1] > differenceColour(0.5, 1)[0], "positive (codes denser than the prior) is green");
  const grey = differenceColour(-0.5, 1);
  assert.ok(Math.max(...grey.slice(0, 3)) - Math.min(...grey.slice(0, 3)) <= 1.5, "negative (prior mass few codes use) is grey");
  assert.ok(isDifferenceMap({ difference: { minuend: "posterior", subtrahend: "prior", text: "", tv_distance: 0.2 } }));
  assert.ok(!isDifferenceMap({}));
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
