// Overlay grids of the latent page (density, distortion, or any generator that declares overlay files):
// which files are overlays comes from the run's file listing (GET /api/runs/{id}/files: the artifact types
// marked `overlay`, each file's keys parsed by the server from the declared patterns), never from names. Colours are pure
// functions of a persisted value and the file's own stats.

/** "none", or the kind of an overlay file: the value of its pattern's one free field besides {method}
 * and {tag} (density's family: posterior, prior, prior_empirical; distortion's metric: metric_ratio). */
export type OverlayKind = string;
/** Display names of the built-in kinds; any other kind shows its own name. */
const KNOWN_LABELS: Record<string, string> = {
  none: "none",
  posterior: "posterior density",
  prior: "prior (uniform)",
  prior_empirical: "prior (empirical)",
  posterior_minus_prior: "posterior − prior (difference)",
  metric_ratio: "distortion (kNN distance ratio)",
};
export const overlayLabel = (kind: OverlayKind) => KNOWN_LABELS[kind] ?? kind.replaceAll("_", " ");

/** One overlay file, from its listed keys (GET /api/runs/{id}/files; see catalogue.overlayOf). */
export interface OverlayEntry { name: string; generator: string; kind: string; method: string; epoch: number }

/** Every overlay kind a run has (in any epoch), with the generator that writes it, in a stable order. */
export function overlayKinds(entries: OverlayEntry[]): Map<string, string> {
  const kinds = new Map<string, string>();
  for (const e of [...entries].sort((a, b) => a.generator.localeCompare(b.generator) || a.kind.localeCompare(b.kind))) {
    if (!kinds.has(e.kind)) kinds.set(e.kind, e.generator);
  }
  return kinds;
}

/** The fields of a density or distortion grid file the map reads (plugins' README tables). */
export interface GridDoc {
  epoch: number;
  method: string;
  grid: { nx: number; ny: number; cell_area: number };
  bounds: number[][];
  values: (number | null)[];
  stats: {
    min: number | null; max: number | null; median?: number | null; mass_in_bounds?: number | null;
    max_abs?: number | null; positive_mass?: number | null; negative_mass?: number | null;
  };
  source?: string;
  prior_kind?: string;
  estimator?: string;
  estimator_text?: string;
  metric?: string;
  metric_text?: string;
  k?: number;
  point_ratio?: (number | null)[];
  /** density grids that reach past the points (the explorer's first view): the points' own box */
  points_bounds?: number[][];
  /** density grids: total-variation distance in this map to each other family of the projection */
  tv_distance?: Record<string, number>;
  /** a signed posterior − prior grid */
  difference?: { minuend: string; subtrahend: string; text: string; tv_distance: number };
  meta: { subset_n: number; compute_ms: number; [key: string]: unknown };
}

/** Whether a grid is a ratio map (a `metric`, drawn on a diverging scale around its median) rather than
 * a density (one light green on a square-root scale). Read from the file itself. */
export const isRatioMap = (doc: Pick<GridDoc, "metric">) => typeof doc.metric === "string";
/** Whether a grid is a signed difference (posterior − prior), drawn green / grey around a transparent zero. */
export const isDifferenceMap = (doc: Pick<GridDoc, "difference">) => typeof doc.difference === "object" && doc.difference !== null;

type RGB = [number, number, number];
/** The map's background (Explorer.module.css .canvasBox): what a transparent cell shows. */
export const MAP_BACKGROUND: RGB = [251, 251, 250];
/** Density ramp: from transparent to one light sage green. No digit colour is green (colour.ts), and this
 * green stays light, under every point: composited on the map it is at least as far (CIEDE2000 ≥ 11, the
 * palette's own smallest gap) from all ten digit colours as they are from each other, in normal vision and
 * simulated protanopia, deuteranopia and tritanopia (overlays.test.ts). Viridis ran through the yellow of
 * the nines and the blues of the twos, sixes and eights. */
export const DENSITY_GREEN: RGB = [150, 194, 132];
const DENSITY_LIGHT: RGB = [203, 225, 194];
/** Difference ramp: green where the codes are denser than the prior, light grey where the prior puts mass
 * that few codes use (both as far from the digit colours as the density green, and from each other). */
export const PRIOR_GREY: RGB = [198, 198, 198];
const ALPHA_GAIN = 2.2; // alpha = min(1, gain * t): the faintest mass is drawn faint, zero not at all
/** Cells of a grid that reaches past the points (``points_bounds``) fade out over this share of each side,
 * so the overlay never ends in a hard edge when the map is panned or zoomed out. */
export const EDGE_FADE = 0.06;
const COOL: RGB = [49, 99, 206];
const WARM: RGB = [200, 40, 40];
const MID: RGB = [247, 247, 247];
const MIN_RANGE_LOG2 = 0.05; // a nearly uniform map is drawn nearly white, not stretched to full colour

function mix(a: [number, number, number], b: [number, number, number], t: number): [number, number, number] {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

/** The density colour at t in [0, 1] (before its alpha). */
export function densityRamp(t: number): RGB {
  return mix(DENSITY_LIGHT, DENSITY_GREEN, Math.min(Math.max(t, 0), 1));
}

/** Alpha (0..255) of a scale position t in [0, 1]: transparent at zero. */
export const rampAlpha = (t: number) => Math.round(Math.min(1, Math.max(t, 0) * ALPHA_GAIN) * 255);

/** What a cell of colour ``rgba`` looks like on the map at the overlay's ``opacity`` (for legends and tests). */
export function composited(rgba: [number, number, number, number], opacity = 1): RGB {
  const a = (rgba[3] / 255) * opacity;
  return [0, 1, 2].map((k) => MAP_BACKGROUND[k] + (rgba[k] - MAP_BACKGROUND[k]) * a) as RGB;
}

/** Diverging colour of t in [-1, 1]: blue (squeezed) through white to red (stretched). */
export function diverging(t: number): [number, number, number] {
  const x = Math.min(Math.max(t, -1), 1);
  return x < 0 ? mix(MID, COOL, -x) : mix(MID, WARM, x);
}

/** The distortion scale fitted to the file: half-width in log2 units of the ratio / median, so the
 * most stretched or squeezed defined cell gets the full colour (symmetric around the median). */
export function distortionRangeLog2(stats: GridDoc["stats"]): number {
  const median = stats.median ?? 0;
  if (!(median > 0)) return 1;
  const ends = [stats.min, stats.max].filter((v): v is number => typeof v === "number" && v > 0);
  const reach = Math.max(0, ...ends.map((v) => Math.abs(Math.log2(v / median))));
  return Math.max(reach, MIN_RANGE_LOG2);
}

/** RGBA of one cell. Density: the green ramp at sqrt(value / max) (square root so low-mass regions stay
 * visible), fading to transparent towards zero: zero density is not drawn at all. Distortion: blue = squeezed, red = stretched, relative
 * to the file's median ratio on the file's own range; empty cells transparent (their colour stays
 * neutral, so smoothing between cells never draws a dark rim). */
export function overlayColour(ratio: boolean, value: number | null, stats: GridDoc["stats"], rangeLog2 = 1): [number, number, number, number] {
  if (ratio) {
    const median = stats.median ?? 1;
    if (value === null || !Number.isFinite(value) || !(value > 0) || !(median > 0)) return [MID[0], MID[1], MID[2], 0];
    const [r, g, b] = diverging(Math.log2(value / median) / rangeLog2);
    return [r, g, b, 200];
  }
  const max = stats.max ?? 0;
  if (value === null || !Number.isFinite(value) || !(max > 0) || value <= 0) return [DENSITY_LIGHT[0], DENSITY_LIGHT[1], DENSITY_LIGHT[2], 0];
  const t = Math.sqrt(value / max);
  const [r, g, b] = densityRamp(t);
  return [r, g, b, rampAlpha(t)];
}

/** RGBA of one cell of a signed difference grid: green (codes denser than the prior) or grey (prior mass
 * few codes use) at sqrt(|value| / max_abs), transparent where the two agree. */
export function differenceColour(value: number | null, maxAbs: number): [number, number, number, number] {
  if (value === null || !Number.isFinite(value) || !(maxAbs > 0) || value === 0) return [MAP_BACKGROUND[0], MAP_BACKGROUND[1], MAP_BACKGROUND[2], 0];
  const t = Math.sqrt(Math.min(Math.abs(value) / maxAbs, 1));
  const [r, g, b] = value > 0 ? densityRamp(t) : mix(MAP_BACKGROUND, PRIOR_GREY, 0.45 + 0.55 * t);
  return [r, g, b, rampAlpha(t)];
}

/** 1 inside, falling smoothly to 0 over the outer ``EDGE_FADE`` of a grid (cell index i of n). */
export function edgeFade(i: number, n: number): number {
  const band = Math.max(1, EDGE_FADE * n);
  const x = Math.min(1, Math.min(i + 0.5, n - i - 0.5) / band);
  return x * x * (3 - 2 * x);
}

/** The grid as an image (nx x ny, row 0 of the file at the bottom). */
export function gridCanvas(doc: GridDoc): HTMLCanvasElement {
  const ratio = isRatioMap(doc);
  const difference = isDifferenceMap(doc);
  const fades = Array.isArray(doc.points_bounds); // the grid reaches past the points: no hard edge
  const maxAbs = doc.stats.max_abs ?? Math.max(Math.abs(doc.stats.min ?? 0), Math.abs(doc.stats.max ?? 0));
  const { nx, ny } = doc.grid;
  const canvas = document.createElement("canvas");
  canvas.width = nx;
  canvas.height = ny;
  const ctx = canvas.getContext("2d")!;
  const image = ctx.createImageData(nx, ny);
  const range = ratio ? distortionRangeLog2(doc.stats) : 1;
  for (let r = 0; r < ny; r++) {
    for (let c = 0; c < nx; c++) {
      const value = doc.values[r * nx + c];
      const rgba = difference ? differenceColour(value, maxAbs) : overlayColour(ratio, value, doc.stats, range);
      if (fades) rgba[3] *= edgeFade(r, ny) * edgeFade(c, nx);
      image.data.set(rgba.map(Math.round), ((ny - 1 - r) * nx + c) * 4);
    }
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

/** A CSS linear-gradient of the overlay's colour scale as the map draws it (left = low, or most negative):
 * a density starts transparent, so the legend shows the map's own background there. */
export function legendGradient(kind: boolean | "ratio" | "density" | "difference"): string {
  const style = kind === true ? "ratio" : kind === false ? "density" : kind;
  const stops: string[] = [];
  for (let i = 0; i <= 20; i++) {
    const t = i / 20;
    const [r, g, b] = style === "ratio" ? diverging(2 * t - 1)
      : style === "difference" ? composited(differenceColour(2 * t - 1, 1))
        : composited(overlayColour(false, t * t, { min: 0, max: 1 }));
    stops.push(`rgb(${Math.round(r)}, ${Math.round(g)}, ${Math.round(b)}) ${t * 100}%`);
  }
  return `linear-gradient(to right, ${stops.join(", ")})`;
}

export function fmt(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  const a = Math.abs(value);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? value.toExponential(2) : value.toPrecision(3);
}
