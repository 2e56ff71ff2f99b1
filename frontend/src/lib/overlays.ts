// Overlay grids of the latent page (any generator whose files have the role `overlay`): which files are
// overlays comes from the run's file listing (GET /api/runs/{id}/files: each file's role and keys, parsed by
// the server from the declared patterns), never from names. Each file says what it is (`label`, `scale`,
// `reading`, `ends`, `notes`: SPEC.md "Explorer roles"); colours are pure functions of a persisted value and
// the file's own stats.

/** "none", or the kind of an overlay file: the value of its pattern's one free field besides {method} and {tag}. */
export type OverlayKind = string;
/** A kind's name before its file says its label: "prior_empirical" -> "prior empirical". */
export const overlayLabel = (kind: OverlayKind) => kind.replaceAll("_", " ");

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

/** How a grid is drawn: `sequential` (values >= 0: one light green on a square-root scale, transparent at 0),
 * `ratio` (values > 0: blue-white-red around the file's median, on its own range) or `signed` (green above 0,
 * grey below, transparent at 0). */
export type OverlayScale = "sequential" | "ratio" | "signed";
const SCALES: readonly string[] = ["sequential", "ratio", "signed"];

/** The fields of an overlay grid file the map reads (SPEC.md "Explorer roles"). */
export interface GridDoc {
  epoch: number;
  method: string;
  grid: { nx: number; ny: number; cell_area: number };
  bounds: number[][];
  /** the grid, flat (row r, column c at r * nx + c); NaN (or null in an old inline file) where it has no value */
  values: ArrayLike<number | null>;
  stats: {
    min: number | null; max: number | null; median?: number | null; mass_in_bounds?: number | null;
    max_abs?: number | null; positive_mass?: number | null; negative_mass?: number | null;
  };
  /** the grid's name (the legend's heading) */
  label?: string;
  scale?: OverlayScale;
  /** how to read the colours (the legend's first note) */
  reading?: string;
  /** what the low and the high end of a ratio or signed scale stand for */
  ends?: [string, string];
  /** how the grid was computed (notes under the legend) */
  notes?: string[];
  k?: number;
  /** a grid that reaches past the points: the points' own box (the grid fades out past it) */
  points_bounds?: number[][];
  /** total-variation distance in this map to each other kind of the same generator and projection */
  tv_distance?: Record<string, number>;
  // Files written before grids described themselves: their scale follows from these fields.
  metric?: string;
  metric_text?: string;
  estimator_text?: string;
  difference?: { subtrahend?: string; tv_distance?: number };
  meta: { subset_n: number; compute_ms: number; [key: string]: unknown };
}

/** The scale a grid is drawn on: its own `scale`, else (older files) ratio for a `metric`, signed for a
 * `difference`, sequential for the rest. */
export function overlayScale(doc: Pick<GridDoc, "scale" | "metric" | "difference">): OverlayScale {
  if (typeof doc.scale === "string" && SCALES.includes(doc.scale)) return doc.scale;
  if (typeof doc.metric === "string") return "ratio";
  return typeof doc.difference === "object" && doc.difference !== null ? "signed" : "sequential";
}

const GENERIC_READING: Record<OverlayScale, string> = {
  sequential: "Greener = higher.",
  ratio: "Red: above this map's median. Blue: below it. White: typical. Empty: no value there.",
  signed: "Green: above zero. Grey: below zero. Nothing drawn: zero.",
};
const GENERIC_ENDS: Record<OverlayScale, [string, string]> = { sequential: ["low", "high"], ratio: ["low", "high"], signed: ["negative", "positive"] };

/** What the legend says of a grid: its own words, or generic ones for a file that has none (older runs). */
export function overlayText(doc: GridDoc, kind: OverlayKind) {
  const scale = overlayScale(doc);
  const ends = Array.isArray(doc.ends) && doc.ends.length === 2 ? doc.ends : GENERIC_ENDS[scale];
  const notes = Array.isArray(doc.notes) ? doc.notes : [doc.metric_text && `Formula: ${doc.metric_text}`, doc.estimator_text].filter((n): n is string => !!n);
  const tv = doc.tv_distance ?? (doc.difference?.subtrahend && typeof doc.difference.tv_distance === "number"
    ? { [doc.difference.subtrahend]: doc.difference.tv_distance } : {});
  return { scale, label: doc.label || overlayLabel(kind), reading: doc.reading || GENERIC_READING[scale], ends, notes, tv };
}

type RGB = [number, number, number];
/** The map's background (Explorer.module.css .canvasBox): what a transparent cell shows. */
export const MAP_BACKGROUND: RGB = [251, 251, 250];
/** Sequential ramp: from transparent to one light sage green. No digit colour is green (colour.ts), and this
 * green stays light, under every point: composited on the map it is at least as far (CIEDE2000 ≥ 11, the
 * palette's own smallest gap) from all ten digit colours as they are from each other, in normal vision and
 * simulated protanopia, deuteranopia and tritanopia (overlays.test.ts). Viridis ran through the yellow of
 * the nines and the blues of the twos, sixes and eights. */
export const OVERLAY_GREEN: RGB = [150, 194, 132];
const OVERLAY_LIGHT: RGB = [203, 225, 194];
/** Signed ramp: green above zero, light grey below it (both as far from the digit colours as the sequential
 * green, and from each other). */
export const BELOW_GREY: RGB = [198, 198, 198];
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

/** The sequential colour at t in [0, 1] (before its alpha). */
export function greenRamp(t: number): RGB {
  return mix(OVERLAY_LIGHT, OVERLAY_GREEN, Math.min(Math.max(t, 0), 1));
}

/** Alpha (0..255) of a scale position t in [0, 1]: transparent at zero. */
export const rampAlpha = (t: number) => Math.round(Math.min(1, Math.max(t, 0) * ALPHA_GAIN) * 255);

/** What a cell of colour ``rgba`` looks like on the map at the overlay's ``opacity`` (for legends and tests). */
export function composited(rgba: [number, number, number, number], opacity = 1): RGB {
  const a = (rgba[3] / 255) * opacity;
  return [0, 1, 2].map((k) => MAP_BACKGROUND[k] + (rgba[k] - MAP_BACKGROUND[k]) * a) as RGB;
}

/** Diverging colour of t in [-1, 1]: blue (low) through white to red (high). */
export function diverging(t: number): [number, number, number] {
  const x = Math.min(Math.max(t, -1), 1);
  return x < 0 ? mix(MID, COOL, -x) : mix(MID, WARM, x);
}

/** The ratio scale fitted to the file: half-width in log2 units of the value / median, so the defined
 * cell farthest from the median gets the full colour (symmetric around the median). */
export function ratioRangeLog2(stats: GridDoc["stats"]): number {
  const median = stats.median ?? 0;
  if (!(median > 0)) return 1;
  const ends = [stats.min, stats.max].filter((v): v is number => typeof v === "number" && v > 0);
  const reach = Math.max(0, ...ends.map((v) => Math.abs(Math.log2(v / median))));
  return Math.max(reach, MIN_RANGE_LOG2);
}

/** RGBA of one cell. Sequential: the green ramp at sqrt(value / max) (square root so low regions stay
 * visible), fading to transparent towards zero: zero is not drawn at all. Ratio: blue = below, red = above,
 * relative to the file's median on the file's own range; empty cells transparent (their colour stays
 * neutral, so smoothing between cells never draws a dark rim). */
export function overlayColour(ratio: boolean, value: number | null, stats: GridDoc["stats"], rangeLog2 = 1): [number, number, number, number] {
  if (ratio) {
    const median = stats.median ?? 1;
    if (value === null || !Number.isFinite(value) || !(value > 0) || !(median > 0)) return [MID[0], MID[1], MID[2], 0];
    const [r, g, b] = diverging(Math.log2(value / median) / rangeLog2);
    return [r, g, b, 200];
  }
  const max = stats.max ?? 0;
  if (value === null || !Number.isFinite(value) || !(max > 0) || value <= 0) return [OVERLAY_LIGHT[0], OVERLAY_LIGHT[1], OVERLAY_LIGHT[2], 0];
  const t = Math.sqrt(value / max);
  const [r, g, b] = greenRamp(t);
  return [r, g, b, rampAlpha(t)];
}

/** RGBA of one cell of a signed grid: green (above zero) or grey (below) at sqrt(|value| / max_abs),
 * transparent at zero. */
export function signedColour(value: number | null, maxAbs: number): [number, number, number, number] {
  if (value === null || !Number.isFinite(value) || !(maxAbs > 0) || value === 0) return [MAP_BACKGROUND[0], MAP_BACKGROUND[1], MAP_BACKGROUND[2], 0];
  const t = Math.sqrt(Math.min(Math.abs(value) / maxAbs, 1));
  const [r, g, b] = value > 0 ? greenRamp(t) : mix(MAP_BACKGROUND, BELOW_GREY, 0.45 + 0.55 * t);
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
  const scale = overlayScale(doc);
  const ratio = scale === "ratio";
  const signed = scale === "signed";
  const fades = Array.isArray(doc.points_bounds); // the grid reaches past the points: no hard edge
  const maxAbs = doc.stats.max_abs ?? Math.max(Math.abs(doc.stats.min ?? 0), Math.abs(doc.stats.max ?? 0));
  const { nx, ny } = doc.grid;
  const canvas = document.createElement("canvas");
  canvas.width = nx;
  canvas.height = ny;
  const ctx = canvas.getContext("2d")!;
  const image = ctx.createImageData(nx, ny);
  const range = ratio ? ratioRangeLog2(doc.stats) : 1;
  for (let r = 0; r < ny; r++) {
    for (let c = 0; c < nx; c++) {
      const value = doc.values[r * nx + c];
      const rgba = signed ? signedColour(value, maxAbs) : overlayColour(ratio, value, doc.stats, range);
      if (fades) rgba[3] *= edgeFade(r, ny) * edgeFade(c, nx);
      image.data.set(rgba.map(Math.round), ((ny - 1 - r) * nx + c) * 4);
    }
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

/** A CSS linear-gradient of the overlay's colour scale as the map draws it (left = low, or most negative):
 * a sequential scale starts transparent, so the legend shows the map's own background there. */
export function legendGradient(style: OverlayScale): string {
  const stops: string[] = [];
  for (let i = 0; i <= 20; i++) {
    const t = i / 20;
    const [r, g, b] = style === "ratio" ? diverging(2 * t - 1)
      : style === "signed" ? composited(signedColour(2 * t - 1, 1))
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
