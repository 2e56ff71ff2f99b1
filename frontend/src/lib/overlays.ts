// Overlay grids (density, distortion) of the latent page: file names and colours. Colours are pure
// functions of a persisted value and the file's own stats.

export type OverlayKind = "none" | "posterior" | "prior" | "prior_empirical" | "distortion";
export const OVERLAY_KINDS: OverlayKind[] = ["none", "posterior", "prior", "prior_empirical", "distortion"];
export const OVERLAY_LABELS: Record<OverlayKind, string> = {
  none: "none",
  posterior: "posterior density",
  prior: "prior (uniform)",
  prior_empirical: "prior (empirical)",
  distortion: "distortion (kNN distance ratio)",
};

/** The fields of a density or distortion grid file the map reads (plugins' README tables). */
export interface GridDoc {
  epoch: number;
  method: string;
  grid: { nx: number; ny: number; cell_area: number };
  bounds: number[][];
  values: (number | null)[];
  stats: { min: number | null; max: number | null; median?: number | null; mass_in_bounds?: number };
  source?: string;
  prior_kind?: string;
  estimator?: string;
  estimator_text?: string;
  metric?: string;
  metric_text?: string;
  k?: number;
  point_ratio?: (number | null)[];
  meta: { subset_n: number; compute_ms: number; [key: string]: unknown };
}

export function overlayFile(kind: OverlayKind, method: string, epoch: number): string | null {
  if (kind === "none") return null;
  if (kind === "distortion") return `distortion/metric_ratio_2d_epoch_${epoch}_${method}.json`;
  return `density/${kind}_2d_epoch_${epoch}_${method}.json`;
}

// viridis, five stops
const VIRIDIS: [number, number, number][] = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
const COOL: [number, number, number] = [49, 99, 206];
const WARM: [number, number, number] = [200, 40, 40];
const MID: [number, number, number] = [247, 247, 247];
const MIN_RANGE_LOG2 = 0.05; // a nearly uniform map is drawn nearly white, not stretched to full colour

function mix(a: [number, number, number], b: [number, number, number], t: number): [number, number, number] {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

export function viridis(t: number): [number, number, number] {
  const x = Math.min(Math.max(t, 0), 1) * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(x), VIRIDIS.length - 2);
  return mix(VIRIDIS[i], VIRIDIS[i + 1], x - i);
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

/** RGBA of one cell. Density: viridis of sqrt(value / max) (square root so low-mass regions stay
 * visible), fading to transparent towards zero. Distortion: blue = squeezed, red = stretched, relative
 * to the file's median ratio on the file's own range; empty cells transparent (their colour stays
 * neutral, so smoothing between cells never draws a dark rim). */
export function overlayColour(kind: OverlayKind, value: number | null, stats: GridDoc["stats"], rangeLog2 = 1): [number, number, number, number] {
  if (kind === "distortion") {
    const median = stats.median ?? 1;
    if (value === null || !Number.isFinite(value) || !(value > 0) || !(median > 0)) return [MID[0], MID[1], MID[2], 0];
    const [r, g, b] = diverging(Math.log2(value / median) / rangeLog2);
    return [r, g, b, 200];
  }
  const max = stats.max ?? 0;
  if (value === null || !Number.isFinite(value) || !(max > 0) || value <= 0) return [VIRIDIS[0][0], VIRIDIS[0][1], VIRIDIS[0][2], 0];
  const t = Math.sqrt(value / max);
  const [r, g, b] = viridis(t);
  return [r, g, b, Math.round(Math.min(1, t * 2.2) * 215)];
}

/** The grid as an image (nx x ny, row 0 of the file at the bottom). */
export function gridCanvas(kind: OverlayKind, doc: GridDoc): HTMLCanvasElement {
  const { nx, ny } = doc.grid;
  const canvas = document.createElement("canvas");
  canvas.width = nx;
  canvas.height = ny;
  const ctx = canvas.getContext("2d")!;
  const image = ctx.createImageData(nx, ny);
  const range = kind === "distortion" ? distortionRangeLog2(doc.stats) : 1;
  for (let r = 0; r < ny; r++) {
    for (let c = 0; c < nx; c++) {
      const rgba = overlayColour(kind, doc.values[r * nx + c], doc.stats, range);
      image.data.set(rgba.map(Math.round), ((ny - 1 - r) * nx + c) * 4);
    }
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

/** A CSS linear-gradient of the overlay's colour scale, left = low. */
export function legendGradient(kind: OverlayKind): string {
  const stops: string[] = [];
  for (let i = 0; i <= 10; i++) {
    const t = i / 10;
    const [r, g, b] = kind === "distortion" ? diverging(2 * t - 1) : viridis(t);
    stops.push(`rgb(${Math.round(r)}, ${Math.round(g)}, ${Math.round(b)}) ${t * 100}%`);
  }
  return `linear-gradient(to right, ${stops.join(", ")})`;
}

export function fmt(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  const a = Math.abs(value);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? value.toExponential(2) : value.toPrecision(3);
}
