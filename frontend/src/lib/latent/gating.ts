// Neighbour-edge opacity. Neighbours, their latent distances d_k and the extent radius (monotone in d_k) come from
// the neighbours file (role "neighbours": SPEC.md "Explorer roles"); the projected edge lengths are computed here
// from the coordinates of the projection of the same method and epoch (files no longer store them); this applies
// the file's own gating formula with its softness and the view's radius factor.
import type { Matrix, TypedArray } from "../artifacts";

/** Fuzzy extent gating: 1 while the edge is within the radius, then an exponential fade (no popping).
 * ``factor`` (> 0) multiplies every radius alike, so the radius stays monotone in d_k. */
export function gateOpacity(length: number, radius: number, softness: number, factor = 1): number {
  const r = radius * factor;
  if (!(r > 0)) return length <= 0 ? 1 : 0;
  if (length <= r) return 1;
  return Math.exp(-(length - r) / (softness * r));
}

/** A default edge opacity that keeps a dense drawing readable: full for a few hundred edges, fading as
 * the number of edges per screen area grows (never below a floor, so edges stay visible). */
export function crowdAwareOpacity(edgeCount: number, areaPx: number): number {
  if (edgeCount <= 0) return 0;
  const perMegapixel = edgeCount / Math.max(areaPx / 1e6, 1e-3);
  return Math.min(0.9, Math.max(0.06, 60 / Math.sqrt(perMegapixel)));
}

export type EdgeMode = "extent_gated" | "top_k";
export type EdgeScope = "off" | "focused" | "all";

export interface NeighboursDoc {
  epoch: number;
  method: string;
  n: number;
  k: number;
  indices: TypedArray;
  /** n x k positions in the file's point order, nearest first */
  neighbors: Matrix;
  distances: Matrix<Float32Array>;
  d_k: Float32Array;
  d_k_median: number;
  /** per projection dimension ("2d", "3d"): the scale of its radii */
  extent: Record<string, { dims: number; scale: number }>;
  /** the extent radius per point in the 2-D / 3-D projection (present for each dimension the file covers) */
  radius_2d?: Float32Array;
  radius_3d?: Float32Array;
  gating: { kind: string; softness: number; formula: string };
  default_edge_mode: EdgeMode;
}

export interface EdgeSet {
  /** point positions in the subset: edge e goes from source[e] to target[e] */
  source: Uint32Array;
  target: Uint32Array;
  /** opacity in [0, 1] per edge */
  opacity: Float32Array;
  count: number;
}

/** The radius per point of one projection dimension, or null when the file has none for it. */
export const radiusOf = (doc: NeighboursDoc, dims: number): Float32Array | null =>
  (dims === 2 ? doc.radius_2d : dims === 3 ? doc.radius_3d : (doc as unknown as Record<string, Float32Array | undefined>)[`radius_${dims}d`]) ?? null;

/** Length of edge i -> j in the projection (Euclidean, projection units). */
export function edgeLength(coords: Matrix, i: number, j: number): number {
  const d = coords.cols, c = coords.data;
  let sum = 0;
  for (let a = 0; a < d; a++) { const t = c[i * d + a] - c[j * d + a]; sum += t * t; }
  return Math.sqrt(sum);
}

/** Whether ``coords`` is the projection the neighbours file's rows refer to (same points, ``dims`` columns). */
const fits = (doc: NeighboursDoc, coords: Matrix | null, dims: number): coords is Matrix =>
  !!coords && coords.rows === doc.n && coords.cols === dims;

export const RADIUS_RANGE: [number, number] = [0.25, 6];
/** At most this many edges are measured to choose the default radius (every point's edges up to it; an even
 * spread of points beyond, so 70,000 points cost what 13,000 do). */
export const RADIUS_SAMPLE = 200_000;

/** The radius factor a map starts with, chosen from its own kNN file: the 75th percentile over its edges (RADIUS_SAMPLE at most) of
 * (projected length / the point's radius), so three in four latent-neighbour edges are within the radius
 * and the rest fade. Never below 1 (the file's radii) and within ``RADIUS_RANGE``. A faithful map (PCA)
 * keeps about 1; a map that tears neighbourhoods apart (UMAP: its groups are tight, neighbours across
 * them far) gets a larger one, so a focused point shows its edges. */
export function defaultRadiusFactor(doc: NeighboursDoc, coords: Matrix | null, dims: number): number {
  const radius = radiusOf(doc, dims);
  if (!radius || !fits(doc, coords, dims)) return 1;
  const { cols: k, data: nb } = doc.neighbors;
  const step = Math.max(1, Math.ceil((doc.n * k) / RADIUS_SAMPLE));
  const ratios = new Float32Array(Math.ceil(doc.n / step) * k);
  let m = 0;
  for (let i = 0; i < doc.n; i += step) {
    const r = radius[i];
    if (r > 0) for (let q = 0; q < k; q++) ratios[m++] = edgeLength(coords, i, nb[i * k + q]) / r;
  }
  if (!m) return 1;
  ratios.subarray(0, m).sort();
  const q = ratios[Math.min(m - 1, Math.floor(0.75 * m))];
  return Math.min(RADIUS_RANGE[1], Math.max(1, Math.ceil(q * 20) / 20));
}

/** The edges to draw for the chosen points (all points when ``from`` is null), their opacity per mode; the gated
 * mode measures each edge in ``coords`` (the projection of the same method and epoch, n x dims; without it every
 * edge is drawn at full opacity). ``perPoint`` keeps each point's nearest few neighbours only (a readable subset
 * for many focused points). */
export function edgesOf(doc: NeighboursDoc, coords: Matrix | null, dims: number, mode: EdgeMode, from: Iterable<number> | null, factor = 1,
  perPoint: number | null = null): EdgeSet {
  const radius = radiusOf(doc, dims);
  const gated = mode !== "top_k" && !!radius && fits(doc, coords, dims);
  const rows: number[] = from === null ? Array.from({ length: doc.n }, (_, i) => i) : [...from];
  const { cols: k, data: nb } = doc.neighbors;
  const source = new Uint32Array(rows.length * k), target = new Uint32Array(rows.length * k), opacity = new Float32Array(rows.length * k);
  let e = 0;
  for (const i of rows) {
    if (!(i >= 0 && i < doc.neighbors.rows)) continue;
    const keep = perPoint === null ? k : Math.min(perPoint, k); // neighbours come nearest first
    for (let r = 0; r < keep; r++) {
      const j = nb[i * k + r];
      source[e] = i;
      target[e] = j;
      opacity[e] = gated ? gateOpacity(edgeLength(coords!, i, j), radius![i], doc.gating.softness, factor) : 1;
      e++;
    }
  }
  return { source: source.subarray(0, e), target: target.subarray(0, e), opacity: opacity.subarray(0, e), count: e };
}
