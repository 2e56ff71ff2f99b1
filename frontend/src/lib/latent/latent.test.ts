// Unit tests of the latent explorer's pure math: node's test runner through tsx (npm run test:unit; the
// pytest suite runs it in tests/test_ui_unit.py).
import assert from "node:assert/strict";
import { test } from "node:test";
import { addToCatalogue, catalogueOf, methodsOf, neighboursFile, overlayOf, projectionName, providerOf, scoreEpochs } from "./catalogue";
import type { FileKeys } from "./catalogue";
import { categoryColour, DIGIT_PALETTE, hexToRgb } from "./colour";
import { minPairDifference } from "./colourScience";
import type { Vision } from "./colourScience";
import { describeFilter, matchFilter, parseFilter } from "./filter";
import { crowdAwareOpacity, edgesOf, gateOpacity } from "./gating";
import type { NeighboursDoc } from "./gating";
import { normalise } from "../artifacts";
import type { Matrix } from "../artifacts";
import { alignPrevious, ease, interpolatePositions } from "./interpolate";
import { insidePolygon, pointsInLasso } from "./lasso";
import { fitZoom, scalingOf, toWorld } from "./scaling";

test("fuzzy gating is 1 inside the radius and fades smoothly beyond it", () => {
  assert.equal(gateOpacity(0.5, 1, 0.5), 1);
  assert.equal(gateOpacity(1, 1, 0.5), 1);
  assert.ok(Math.abs(gateOpacity(1 + 1e-9, 1, 0.5) - 1) < 1e-6, "continuous at the radius: no popping");
  assert.ok(Math.abs(gateOpacity(1.5, 1, 0.5) - Math.exp(-1)) < 1e-12, "the file's formula exp(-(L-r)/(s r))");
  for (let L = 1; L < 6; L += 0.01) {
    const a = gateOpacity(L, 1, 0.5), b = gateOpacity(L + 0.01, 1, 0.5);
    assert.ok(b <= a && a - b < 0.03, `opacity falls smoothly with length (L=${L.toFixed(2)})`);
  }
});

test("fuzzy gating is monotone in d_k and changes smoothly with the radius factor", () => {
  // radius_i = scale * d_k_i / d_k_median (the kNN file's rule): a larger d_k never dims an edge of a given length
  const scale = 0.8, median = 2, length = 1.7;
  let previous = -1;
  for (let dk = 0.1; dk < 8; dk += 0.05) {
    const o = gateOpacity(length, (scale * dk) / median, 0.5);
    assert.ok(o >= previous - 1e-12, `non-decreasing in d_k (d_k=${dk.toFixed(2)})`);
    previous = o;
  }
  for (let f = 0.2; f < 3; f += 0.01) {
    const a = gateOpacity(1.3, 0.9, 0.5, f), b = gateOpacity(1.3, 0.9, 0.5, f + 0.01);
    assert.ok(b >= a && b - a < 0.05, `a small change of the radius factor changes opacity a little (f=${f.toFixed(2)})`);
  }
});

/** an old inline kNN file (radii inside the extent, edge lengths stored), read into the in-memory shape */
function neighboursDoc(): NeighboursDoc {
  return normalise({
    epoch: 1, method: "pca", n: 3, k: 2, indices: [10, 11, 12],
    neighbors: [[1, 2], [0, 2], [1, 0]], distances: [[1, 2], [1, 1.5], [1.5, 2]], d_k: [2, 1.5, 2], d_k_median: 2,
    extent: { "2d": { dims: 2, scale: 1, radius: [1, 0.75, 1], edge_lengths: [[9, 9], [9, 9], [9, 9]] } },
    gating: { kind: "exponential", softness: 0.5, formula: "" }, default_edge_mode: "extent_gated",
  }) as unknown as NeighboursDoc;
}
/** the projection of the same method and epoch: edge lengths 0-1: 0.5, 1-2: 2, 0-2: sqrt(4.25) */
const coordsOf = (scale = 1): Matrix => ({ data: Float32Array.from([0, 0, 0.5, 0, 0.5, 2].map((v) => v * scale)), rows: 3, cols: 2 });

test("an old kNN file reads as the new one: radii per dimension, stored edge lengths dropped", () => {
  const doc = neighboursDoc();
  assert.deepEqual([...doc.radius_2d!], [1, 0.75, 1]);
  assert.deepEqual(doc.extent["2d"], { dims: 2, scale: 1 });
  assert.deepEqual([doc.neighbors.rows, doc.neighbors.cols, ...doc.neighbors.data], [3, 2, 1, 2, 0, 2, 1, 0]);
});

test("edges come from the kNN file: top-k draws all at full opacity, gating fades edges long in the projection", () => {
  const top = edgesOf(neighboursDoc(), coordsOf(), 2, "top_k", null);
  assert.equal(top.count, 6);
  assert.deepEqual([...top.target], [1, 2, 0, 2, 1, 0]);
  assert.ok([...top.opacity].every((o) => o === 1));
  const gated = edgesOf(neighboursDoc(), coordsOf(), 2, "extent_gated", [0]);
  assert.equal(gated.count, 2);
  assert.equal(gated.opacity[0], 1);
  assert.ok(Math.abs(gated.opacity[1] - Math.exp(-(Math.sqrt(4.25) - 1) / 0.5)) < 1e-6);
  const other = edgesOf(neighboursDoc(), { data: new Float32Array(4), rows: 2, cols: 2 }, 2, "extent_gated", [0]);
  assert.ok([...other.opacity].every((o) => o === 1), "a projection of other points measures nothing: full opacity");
});

test("the default radius comes from the map's own edges, and many focused points keep their nearest few", async () => {
  const { defaultRadiusFactor } = await import("./gating");
  // ratios length / radius: 0.5, 2.06, 0.667, 2.667, 2, 2.06 -> the 75th percentile is 2.06 -> 2.1 (steps of 0.05)
  assert.equal(defaultRadiusFactor(neighboursDoc(), coordsOf(), 2), 2.1);
  assert.equal(defaultRadiusFactor(neighboursDoc(), coordsOf(0.1), 2), 1, "never below the file's radii");
  assert.equal(defaultRadiusFactor(neighboursDoc(), coordsOf(50), 2), 6, "capped at the slider's end");
  assert.equal(defaultRadiusFactor(neighboursDoc(), coordsOf(), 3), 1, "no 3-D extent: the file's radii");
  const few = edgesOf(neighboursDoc(), coordsOf(), 2, "extent_gated", [0, 1, 2], 1, 1);
  assert.deepEqual([...few.target], [1, 0, 1], "each point's nearest neighbour only");
});

test("crowd-aware edge opacity falls as edges crowd, within bounds", () => {
  const area = 800 * 600;
  const few = crowdAwareOpacity(100, area), many = crowdAwareOpacity(150000, area);
  assert.ok(few > many && few <= 0.9 && many >= 0.06);
  assert.equal(crowdAwareOpacity(0, area), 0);
});

test("scaling: PCA keeps the origin, UMAP centres its box, every axis gets one factor", () => {
  const pca = scalingOf("pca", 2, [[-1, 3], [-2, 1]]);
  assert.deepEqual(pca.centre, [0, 0, 0]);
  assert.equal(pca.scale, 1 / 3);
  const umap = scalingOf("umap", 2, [[2, 10], [4, 6]]);
  assert.deepEqual(umap.centre, [6, 5, 0]);
  assert.equal(umap.scale, 1 / 4);
  const w = toWorld({ data: Float32Array.from([2, 4, 10, 6]), rows: 2, cols: 2 }, 2, umap);
  assert.deepEqual([...w], [-1, -0.25, 0, 1, 0.25, 0]);
  // the ratio of distances along x and y is kept (isotropic)
  assert.equal(umap.half[0] / umap.half[1], (10 - 2) / (6 - 4));
});

test("scaling is dimension-aware: 3-D uses z and fits the bounding sphere, 2-D the box", () => {
  const s2 = scalingOf("umap", 2, [[0, 2], [0, 2]]);
  const s3 = scalingOf("umap", 3, [[0, 2], [0, 2], [0, 2]]);
  assert.equal(s2.half[2], 0);
  assert.equal(s3.half[2], 1);
  const w = toWorld({ data: Float32Array.from([0, 0, 2]), rows: 1, cols: 3 }, 3, s3);
  assert.deepEqual([...w], [-1, -1, 1]);
  const z2 = fitZoom(2, s2, 800, 800, 0), z3 = fitZoom(3, s3, 800, 800, 0);
  assert.ok(Math.abs(2 ** z2 - 400) < 1e-9, "2-D: the box [-1, 1] spans the viewport");
  assert.ok(Math.abs(2 ** z3 - 400 / (0.8 * Math.sqrt(3))) < 1e-9, "3-D: a sphere around the cloud spans it");
  const flat = scalingOf("umap", 3, [[0, 2], [0, 0.2], [0, 0.2]]);
  assert.ok(Math.abs(2 ** fitZoom(3, flat, 800, 800, 0) - 400) < 1e-9, "never smaller than the longest half-axis");
  assert.ok(fitZoom(2, s2, 800, 400, 0) < z2, "the shorter side decides");
});

test("interpolation endpoints are exact and the path is monotone between them", () => {
  const from = new Float32Array([0.1, -3, 7.25, 1e-7]), to = new Float32Array([2.5, -1, -7.125, 3]);
  assert.deepEqual([...interpolatePositions(from, to, 0)], [...from]);
  assert.deepEqual([...interpolatePositions(from, to, 1)], [...to]);
  assert.deepEqual([...interpolatePositions(from, to, -1)], [...from]);
  assert.deepEqual([...interpolatePositions(from, to, 2)], [...to]);
  let prev = from[0];
  for (let t = 0.05; t <= 1; t += 0.05) {
    const v = interpolatePositions(from, to, t)[0];
    assert.ok(v >= prev, "moves one way");
    prev = v;
  }
  assert.equal(ease(0), 0);
  assert.equal(ease(1), 1);
  assert.equal(ease(0.5), 0.5);
});

test("previous positions follow the point by dataset key when orders differ", () => {
  const prev = new Float32Array([1, 1, 0, 2, 2, 0]);
  const next = new Float32Array([5, 5, 0, 6, 6, 0, 7, 7, 0]);
  assert.equal(alignPrevious(["a", "b"], prev, ["a", "b"], next.subarray(0, 6)), null);
  const aligned = alignPrevious(["a", "b"], prev, ["b", "c", "a"], next)!;
  assert.deepEqual([...aligned], [2, 2, 0, 6, 6, 0, 1, 1, 0]);
});

test("lasso picks exactly the points inside the polygon", () => {
  const square: [number, number][] = [[0, 0], [10, 0], [10, 10], [0, 10]];
  assert.ok(insidePolygon(5, 5, square));
  assert.ok(!insidePolygon(15, 5, square));
  const screen = new Float32Array([1, 1, 11, 1, 5, 9, -1, 5]);
  assert.deepEqual(pointsInLasso(screen, square), [0, 2]);
  const concave: [number, number][] = [[0, 0], [10, 0], [10, 10], [5, 2], [0, 10]];
  assert.ok(!insidePolygon(5, 6, concave), "the notch of a concave lasso is outside");
  assert.deepEqual(pointsInLasso(screen, [[0, 0], [1, 1]]), []);
});

test("the digit palette stays distinguishable in normal and colour-blind vision", () => {
  const rgb = DIGIT_PALETTE.map(hexToRgb);
  assert.equal(new Set(DIGIT_PALETTE).size, 10);
  for (const vision of ["normal", "protan", "deutan", "tritan"] as Vision[]) {
    const { value, pair } = minPairDifference(rgb, vision);
    assert.ok(value >= 11, `${vision}: digits ${pair[0]} and ${pair[1]} are only ${value.toFixed(1)} apart (CIEDE2000)`);
  }
  // the old palette failed: its 4 and 9 were two near-identical greens
  const old = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#637939"];
  assert.ok(minPairDifference(old.map(hexToRgb), "deutan").value < 5);
  assert.deepEqual(categoryColour(13), categoryColour(3));
});

test("filters parse keys and values and match every term", () => {
  const points = { indices: [5, 6, 7, 8], labels: [4, 4, 9, 4], predicted: [9, 4, 9, 9], component: null };
  assert.deepEqual([...matchFilter(parseFilter("label:4 pred:9"), points)!], [0, 3]);
  assert.deepEqual([...matchFilter(parseFilter("#7"), points)!], [2]);
  assert.deepEqual([...matchFilter(parseFilter("6"), points)!], [1]);
  assert.deepEqual([...matchFilter(parseFilter("label:9,4 idx:8"), points)!], [3]);
  assert.equal(matchFilter(parseFilter(""), points), null);
  assert.match(parseFilter("colour:red").error!, /unknown filter/);
  assert.match(parseFilter("label:x").error!, /whole numbers/);
  assert.deepEqual([...matchFilter(parseFilter("comp:1"), points)!], [], "no component column: nothing matches");
});

test("filters negate and combine, and an unparsable term says where it is", () => {
  const points = { indices: [5, 6, 7, 8], labels: [4, 4, 9, 4], predicted: [9, 4, 9, 9], component: [0, 1, 1, 2] };
  assert.deepEqual([...matchFilter(parseFilter("label:4 pred:!4"), points)!], [0, 3], "the fours the classifier gets wrong");
  assert.deepEqual([...matchFilter(parseFilter("!label:4"), points)!], [2]);
  assert.deepEqual([...matchFilter(parseFilter("comp:!1,2"), points)!], [0], "all but several values");
  assert.deepEqual([...matchFilter(parseFilter("label:4 !#5 comp:1,2"), points)!], [1, 3]);
  assert.deepEqual([...matchFilter(parseFilter("pred:!9 pred:!4"), points)!], [], "every clause must hold");
  const bad = parseFilter("label:4  pred:x");
  assert.deepEqual(bad.errorAt, [9, 15]);
  assert.match(bad.error!, /at character 10: "pred:x"/);
  assert.match(parseFilter("!pred:!4").error!, /"!" twice/);
  assert.match(parseFilter("label:").error!, /whole numbers/);
  assert.match(parseFilter("label:3,").error!, /whole numbers/);
  assert.equal(describeFilter(parseFilter("label:4 pred:!4,7")), "label is 4 and pred is none of 4, 7");
});

/** A listed file as GET /api/runs/{id}/files gives it (the keys the server parsed from the declared patterns). */
const row = (name: string, artifact: string | null, kind: string, epoch: number | null, more: Partial<FileKeys> = {}): FileKeys =>
  ({ name, artifact, kind, epoch, latest: false, method: null, dims: null, fields: {}, role: null, ...more });

test("overlay files are found from the role the listing gives them, not names known here", async () => {
  const { overlayKinds } = await import("../overlays");
  const overlay = { role: "overlay" };
  const prior = overlayOf(row("grids/prior_empirical_2d_epoch_3_umap.json", "grids", "artifacts", 3, { ...overlay, method: "umap", fields: { family: "prior_empirical" } }))!;
  assert.deepEqual(prior, { name: "grids/prior_empirical_2d_epoch_3_umap.json", generator: "grids", kind: "prior_empirical", method: "umap", epoch: 3 });
  assert.equal(overlayOf(row("quality/map_blur_epoch_2_pca.json", "sharpness", "artifacts", 2, { ...overlay, method: "pca", fields: { score: "blur" } }))!.generator,
    "sharpness", "a third-party overlay needs no UI change");
  assert.equal(overlayOf(row("grids/prior_2d_latest_pca.json", "grids", "artifacts", null, { ...overlay, latest: true, method: "pca", fields: { family: "prior" } })), null, "mirrors are not epochs");
  assert.equal(overlayOf(row("draws/posterior_local_epoch_1_idx_4_m_4.json", "draws", "artifacts", 1, { ...overlay, fields: { kind: "posterior_local", idx: 4, m: 4 } })), null, "no {method}: not a map overlay");
  assert.equal(overlayOf(row("graph/nn_pca_epoch_1.json", "graph", "artifacts", 1, { method: "pca", role: "neighbours" })), null, "another role");
  const c = catalogueOf([
    row("grids/posterior_2d_epoch_1_pca.json", "grids", "artifacts", 1, { ...overlay, method: "pca", fields: { family: "posterior" } }),
    row("ratio/metric_ratio_2d_epoch_1_pca.json", "ratio", "artifacts", 1, { ...overlay, method: "pca", fields: { metric: "metric_ratio" } }),
  ]);
  assert.deepEqual([...overlayKinds([...c.overlays.values()])], [["posterior", "grids"], ["metric_ratio", "ratio"]]);
});

test("the catalogue reads the listing's keys and finds each explorer role, whoever provides it", () => {
  const projection = (name: string, method: string, dims: number, epoch: number | null) =>
    row(name, method, "projections", epoch, { method, dims, latest: epoch === null });
  const c = catalogueOf([
    projection("projections/latent_2d_epoch_2.json", "pca", 2, 2), projection("projections/latent_2d_epoch_1.json", "pca", 2, 1),
    projection("projections/latent_3d_epoch_1_pca.json", "pca", 3, 1), projection("projections/latent_2d_epoch_1_umap.json", "umap", 2, 1),
    projection("projections/latent_2d_latest.json", "pca", 2, null),
    row("graph/nn_umap_epoch_1.json", "faiss", "artifacts", 1, { method: "umap", role: "neighbours" }),
    row("grids/prior_empirical_2d_epoch_1_umap.json", "grids", "artifacts", 1, { method: "umap", fields: { family: "prior_empirical" }, role: "overlay" }),
    row("sheets/inputs.json", "sheets", "artifacts", null, { role: "input-thumbnails" }),
    row("sheets/recons_epoch_2.json", "sheets", "artifacts", 2, { role: "reconstruction-thumbnails" }),
    row("sheets/recons_latest.json", "sheets", "artifacts", null, { latest: true, role: "reconstruction-thumbnails" }),
    row("scores/scores_epoch_3.json", "scores", "artifacts", 3, { role: "cluster-scores" }),
    row("scores/scores_epoch_1.json", "scores", "artifacts", 1, { role: "cluster-scores" }),
    row("health/health_epoch_3.json", "health", "artifacts", 3),
    row("health/health_latest.json", "health", "artifacts", null, { latest: true }),
  ]);
  assert.deepEqual(methodsOf(c), ["pca", "umap"]);
  assert.deepEqual(c.projections.get("pca")!.get(2), [1, 2]);
  assert.deepEqual(c.projections.get("pca")!.get(3), [1]);
  assert.equal(neighboursFile(c, "umap", 1), "graph/nn_umap_epoch_1.json");
  assert.equal(neighboursFile(c, "umap", 2), null);
  assert.equal(neighboursFile(c, "pca", 1), null);
  assert.equal(c.inputThumbnails, "sheets/inputs.json");
  assert.deepEqual([...c.reconstructionThumbnails], [[2, "sheets/recons_epoch_2.json"]], "the mirror is not an epoch");
  assert.deepEqual(scoreEpochs(c), [1, 3]);
  assert.equal(c.clusterScores.get(3), "scores/scores_epoch_3.json");
  assert.ok(c.files.some((r) => r.name === "health/health_epoch_3.json") && c.files.length === 14, "every name, once");
  assert.ok(c.overlays.has("grids/prior_empirical_2d_epoch_1_umap.json"));
  assert.equal(addToCatalogue(c, [projection("projections/latent_2d_epoch_2.json", "pca", 2, 2)]), c, "nothing new: same object");
  const more = addToCatalogue(c, [projection("projections/latent_2d_epoch_3.json", "pca", 2, 3)]);
  assert.deepEqual(more.projections.get("pca")!.get(2), [1, 2, 3]);
  assert.deepEqual(c.projections.get("pca")!.get(2), [1, 2], "the old catalogue is unchanged");
  assert.equal(projectionName("pca", 2, 4), "projections/latent_2d_epoch_4.json");
  assert.equal(projectionName("umap", 3, 4), "projections/latent_3d_epoch_4_umap.json");
});

test("the catalogue knows which installed computation provides a role before it has files", () => {
  const types = [{ name: "health", roles: [] }, { name: "graph", roles: ["neighbours"] }, { name: "grids", roles: ["overlay"] },
    { name: "ratio", roles: ["overlay"] }];
  const c = addToCatalogue(catalogueOf([]), [], types);
  assert.equal(providerOf(c, "neighbours"), "graph", "named for a backfill though no neighbours file exists yet");
  assert.equal(providerOf(c, "overlay"), "grids", "several overlays: the first listed");
  assert.equal(providerOf(c, "cluster-scores"), null, "no installed provider");
  assert.equal(neighboursFile(c, "pca", 1), null);
  assert.equal(addToCatalogue(c, [], types), c, "the same types again: the same object");
  const files = addToCatalogue(c, [row("graph/nn_pca_epoch_1.json", "graph", "artifacts", 1, { method: "pca", role: "neighbours" })]);
  assert.equal(providerOf(files, "neighbours"), "graph", "files added later keep the providers");
  assert.equal(providerOf(catalogueOf([]), "neighbours"), null);
});

test("the ratio colour scale fits the file's own range", async () => {
  const { diverging, ratioRangeLog2, overlayColour } = await import("../overlays");
  const stats = { min: 0.32, median: 0.45, max: 0.56 }; // a real run's ratios: the old fixed x4 scale drew them nearly white
  const range = ratioRangeLog2(stats);
  assert.ok(Math.abs(range - Math.log2(0.45 / 0.32)) < 1e-12, "the farther end decides");
  assert.deepEqual(overlayColour(true, 0.32, stats, range).slice(0, 3), diverging(-1), "the most squeezed cell is full blue");
  const [r, g, b] = overlayColour(true, 0.45, stats, range);
  assert.deepEqual([r, g, b], diverging(0), "the median is white");
  const fromWhite = (c: number[]) => Math.hypot(c[0] - 247, c[1] - 247, c[2] - 247);
  const old = overlayColour(true, 0.32, stats, 2); // the old scale saturated at x4 around the median
  assert.ok(fromWhite(old) < 0.3 * fromWhite(overlayColour(true, 0.32, stats, range)), "the old scale left it near white");
  assert.equal(overlayColour(true, null, stats, range)[3], 0, "empty cells are transparent");
  assert.ok(ratioRangeLog2({ min: 1, median: 1, max: 1 }) > 0, "a uniform map does not divide by zero");
});

test("zoom to matches fits their box in 2-D and their sphere in 3-D", async () => {
  const { fitToPoints, fitZoom, scalingOf } = await import("./scaling");
  const world = new Float32Array([-1, -1, 0, 0.2, 0.2, 0, 0.4, 0.3, 0, 1, 1, 0]);
  const whole = fitZoom(2, scalingOf("pca", 2, [[-1, 1], [-1, 1]]), 800, 600);
  const two = fitToPoints(world, [1, 2], 2, 800, 600)!;
  assert.deepEqual(two.target.map((v) => Math.round(v * 100) / 100), [0.3, 0.25, 0]);
  assert.ok(two.zoom > whole + 2, "two nearby matches are shown much closer than the whole map");
  const one = fitToPoints(world, [3], 2, 800, 600)!;
  assert.deepEqual(one.target, [1, 1, 0]);
  assert.ok(Number.isFinite(one.zoom) && one.zoom <= 14, "a single match gets a finite zoom");
  assert.equal(fitToPoints(world, [], 2, 800, 600), null);
  const cube = new Float32Array([0, 0, 0.5, 0, 0, -0.5]);
  const three = fitToPoints(cube, [0, 1], 3, 600, 600)!;
  assert.ok(Math.abs(three.zoom - Math.log2((600 * 0.76) / 1)) < 1e-6, "3-D fits the sphere through the farthest match");
});
