// The latent page's file catalogue and overlay colours. Which projections and overlays exist comes from
// the run's artifact listing (the file names of the specification); colours are pure functions of a
// persisted value and the file's own stats.

export type OverlayKind = "none" | "posterior" | "prior" | "prior_empirical" | "distortion";
export const OVERLAY_KINDS: OverlayKind[] = ["none", "posterior", "prior", "prior_empirical", "distortion"];
export const OVERLAY_LABELS: Record<OverlayKind, string> = {
  none: "none",
  posterior: "posterior density",
  prior: "prior (uniform)",
  prior_empirical: "prior (empirical)",
  distortion: "distortion (kNN distance ratio)",
};

/** The fields of a projection file the map reads (latentdeck.projections.ProjectionFile). */
export interface ProjectionDoc {
  epoch: number;
  method: string;
  dims: number;
  n: number;
  latent: string;
  indices: number[];
  labels: number[];
  predicted?: number[] | null;
  component?: number[] | null;
  coords: number[][];
  bounds: number[][];
}

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

const PROJECTION_2D = /^projections\/latent_2d_epoch_(\d+)(?:_(.+))?\.json$/;
const DENSITY = /^density\/(posterior|prior_empirical|prior)_2d_epoch_(\d+)_(.+)\.json$/;
const DISTORTION = /^distortion\/metric_ratio_2d_epoch_(\d+)_(.+)\.json$/;

export interface Catalogue {
  /** method -> epochs with a 2-D projection, ascending */
  methods: Map<string, number[]>;
  /** every overlay file name on disk */
  overlays: Set<string>;
}

export function catalogueOf(names: string[]): Catalogue {
  const methods = new Map<string, number[]>();
  const overlays = new Set<string>();
  for (const name of names) {
    const p = PROJECTION_2D.exec(name);
    if (p) {
      const method = p[2] ?? "pca";
      methods.set(method, [...(methods.get(method) ?? []), Number(p[1])]);
    } else if (DENSITY.test(name) || DISTORTION.test(name)) {
      overlays.add(name);
    }
  }
  for (const epochs of methods.values()) epochs.sort((a, b) => a - b);
  return { methods, overlays };
}

export function projectionFile(method: string, epoch: number): string {
  return method === "pca" ? `projections/latent_2d_epoch_${epoch}.json` : `projections/latent_2d_epoch_${epoch}_${method}.json`;
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
export const DISTORTION_RANGE_LOG2 = 2; // colours saturate at x4 stretched / squeezed relative to the median

function mix(a: [number, number, number], b: [number, number, number], t: number): [number, number, number] {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

export function viridis(t: number): [number, number, number] {
  const x = Math.min(Math.max(t, 0), 1) * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(x), VIRIDIS.length - 2);
  return mix(VIRIDIS[i], VIRIDIS[i + 1], x - i);
}

/** Diverging colour of log2(ratio / median) in [-1, 1] after dividing by DISTORTION_RANGE_LOG2. */
export function diverging(t: number): [number, number, number] {
  const x = Math.min(Math.max(t, -1), 1);
  return x < 0 ? mix(MID, COOL, -x) : mix(MID, WARM, x);
}

/** RGBA of one cell. Density: viridis of sqrt(value / max) (square root so low-mass regions stay
 * visible), fading to transparent towards zero. Distortion: blue = squeezed, red = stretched, relative
 * to the file's median ratio; empty cells transparent. */
export function overlayColour(kind: OverlayKind, value: number | null, stats: GridDoc["stats"]): [number, number, number, number] {
  if (value === null || !Number.isFinite(value)) return [0, 0, 0, 0];
  if (kind === "distortion") {
    const median = stats.median ?? 1;
    if (!(value > 0) || !(median > 0)) return [0, 0, 0, 0];
    const [r, g, b] = diverging(Math.log2(value / median) / DISTORTION_RANGE_LOG2);
    return [r, g, b, 190];
  }
  const max = stats.max ?? 0;
  if (!(max > 0) || value <= 0) return [0, 0, 0, 0];
  const t = Math.sqrt(value / max);
  const [r, g, b] = viridis(t);
  return [r, g, b, Math.round(Math.min(1, t * 2.2) * 215)];
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
