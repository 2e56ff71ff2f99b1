import assert from "node:assert/strict";
import { test } from "node:test";
import { AUTO_FRACTION, MAX_SPRITE_PX, SPRITE_PX, autoZoom, iconMapping, layoutProblem, nearestSpacing, sheetFits, spritePlan, tileFrame } from "./sprites";

test("icon i is tile i of the sheet: column i % columns, row floor(i / columns), tile = [h, w]", () => {
  const layout = { n: 7, tile: [28, 20], columns: 3, rows: 3 };
  const mapping = iconMapping(layout);
  assert.equal(Object.keys(mapping).length, 7);
  assert.deepEqual(mapping["0"], { x: 0, y: 0, width: 20, height: 28, mask: false });
  assert.deepEqual(mapping["2"], { x: 40, y: 0, width: 20, height: 28, mask: false });
  assert.deepEqual(mapping["3"], { x: 0, y: 28, width: 20, height: 28, mask: false });
  assert.deepEqual(mapping["6"], { x: 0, y: 56, width: 20, height: 28, mask: false });
  assert.equal(mapping["7"], undefined, "no icon past the subset");
  // a sheet of 64 points: 8 x 8 tiles of 28 px
  const sheet = { n: 64, tile: [28, 28], columns: 8, rows: 8 };
  for (let i = 0; i < 64; i++) assert.deepEqual([tileFrame(sheet, i).x, tileFrame(sheet, i).y], [(i % 8) * 28, Math.floor(i / 8) * 28]);
});

test("a layout that cannot hold the points is refused, naming what is wrong", () => {
  assert.match(layoutProblem({ n: 10, tile: [28, 28], columns: 3, rows: 3 })!, /3 x 3 tiles for 10 points/);
  assert.match(layoutProblem({ n: 1, tile: [0, 28], columns: 1, rows: 1 })!, /tile size/);
  assert.match(layoutProblem({ n: 1, tile: [28, 28], columns: 0, rows: 1 })!, /0 columns/);
  assert.throws(() => iconMapping({ n: 10, tile: [28, 28], columns: 3, rows: 3 }), /for 10 points/);
  assert.equal(layoutProblem({ n: 9, tile: [28, 28], columns: 3, rows: 3 }), null);
});

test("a sheet fits a map with the same points in the same order", () => {
  assert.ok(sheetFits({ n: 3, tile: [28, 28], columns: 2, rows: 2, indices: [5, 1, 9] }, [5, 1, 9]));
  assert.ok(!sheetFits({ n: 3, tile: [28, 28], columns: 2, rows: 2, indices: [5, 9, 1] }, [5, 1, 9]));
  assert.ok(!sheetFits({ n: 2, tile: [28, 28], columns: 2, rows: 1 }, [5, 1, 9]));
  assert.ok(sheetFits({ n: 3, tile: [28, 28], columns: 2, rows: 2 }, [5, 1, 9]));
});

function brute(positions: ArrayLike<number>): number[] {
  const n = positions.length / 3, out: number[] = [];
  for (let i = 0; i < n; i++) {
    let best = Infinity;
    for (let j = 0; j < n; j++) if (j !== i) best = Math.min(best, Math.hypot(positions[3 * j] - positions[3 * i], positions[3 * j + 1] - positions[3 * i + 1]));
    out.push(best);
  }
  return out.sort((a, b) => a - b);
}

test("the spacing is the lower quartile of the nearest-neighbour distances (grid search = brute force)", () => {
  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  // groups of very different spread, so the grid's rings must reach out
  const positions: number[] = [];
  for (let i = 0; i < 600; i++) {
    const c = i % 3, spread = [0.01, 0.1, 0.4][c];
    positions.push([-0.5, 0.3, 0.6][c] + spread * (random() - 0.5), [0.2, -0.6, 0.5][c] + spread * (random() - 0.5), 0);
  }
  positions.push(0.99, 0.99, 0); // a far outlier
  const f32 = new Float32Array(positions);
  const want = brute(f32);
  assert.ok(Math.abs(nearestSpacing(f32) / want[Math.floor(0.25 * want.length)] - 1) < 1e-12);
  assert.ok(want[Math.floor(0.25 * want.length)] < want[Math.floor(0.5 * want.length)], "the quartile, not the median");
  // a regular grid: every nearest neighbour is one step away
  const grid: number[] = [];
  for (let y = 0; y < 10; y++) for (let x = 0; x < 10; x++) grid.push(x * 0.1, y * 0.1, 0);
  assert.ok(Math.abs(nearestSpacing(grid) - 0.1) < 1e-9);
  assert.equal(nearestSpacing([0, 0, 0]), 0);
  assert.equal(nearestSpacing([0, 0, 0, 0, 0, 0]), 0, "two points in one place");
});

test("auto draws digits once the spacing on screen reaches 0.8 x 24 px, in 2-D only; on and off are what they say", () => {
  const spacing = 0.01; // world units: 2^zoom px per unit
  const edge = autoZoom(spacing);
  assert.ok(Math.abs(spacing * 2 ** edge - AUTO_FRACTION * SPRITE_PX) < 1e-9);
  assert.equal(spritePlan("auto", spacing, edge - 0.01, 2).show, false);
  assert.equal(spritePlan("auto", spacing, edge + 0.01, 2).show, true);
  assert.equal(spritePlan("auto", spacing, edge + 0.01, 2).sizePx, SPRITE_PX);
  assert.equal(spritePlan("auto", spacing, edge + 5, 2).sizePx, MAX_SPRITE_PX, "tiles grow with the spacing, to a limit");
  assert.equal(spritePlan("auto", spacing, edge + 0.5, 2).sizePx, Math.round(SPRITE_PX * 2 ** 0.5));
  assert.equal(spritePlan("on", spacing, edge - 3, 2).show, true);
  assert.equal(spritePlan("on", spacing, edge - 3, 2).sizePx, SPRITE_PX, "never smaller than 24 px");
  assert.equal(spritePlan("off", spacing, edge + 3, 2).show, false);
  assert.equal(spritePlan("auto", spacing, edge + 3, 3).show, false, "no auto in 3-D");
  assert.equal(spritePlan("on", spacing, edge + 3, 3).show, true);
  assert.equal(spritePlan("on", spacing, edge + 3, 3).sizePx, SPRITE_PX);
});
