// Neighbour-edge opacity. Neighbours, their latent distances d_k, the extent radius (monotone in d_k) and
// the projected edge lengths all come from the neighbours file (role "neighbours": SPEC.md "Explorer roles"); this
// applies the file's own gating formula with its softness and the view's radius factor.

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
  indices: number[];
  neighbors: number[][];
  distances: number[][];
  d_k: number[];
  d_k_median: number;
  extent: Record<string, { dims: number; scale: number; radius: number[]; edge_lengths: number[][] }>;
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

export const RADIUS_RANGE: [number, number] = [0.25, 6];

/** The radius factor a map starts with, chosen from its own kNN file: the 75th percentile over all edges of
 * (projected length / the point's radius), so three in four latent-neighbour edges are within the radius
 * and the rest fade. Never below 1 (the file's radii) and within ``RADIUS_RANGE``. A faithful map (PCA)
 * keeps about 1; a map that tears neighbourhoods apart (UMAP: its groups are tight, neighbours across
 * them far) gets a larger one, so a focused point shows its edges. */
export function defaultRadiusFactor(doc: NeighboursDoc, dims: number): number {
  const ext = doc.extent[`${dims}d`];
  if (!ext) return 1;
  const ratios: number[] = [];
  ext.edge_lengths.forEach((row, i) => {
    const r = ext.radius[i];
    if (r > 0) for (const length of row) ratios.push(length / r);
  });
  if (!ratios.length) return 1;
  ratios.sort((a, b) => a - b);
  const q = ratios[Math.min(ratios.length - 1, Math.floor(0.75 * ratios.length))];
  return Math.min(RADIUS_RANGE[1], Math.max(1, Math.ceil(q * 20) / 20));
}

/** The edges to draw for the chosen points (all points when ``from`` is null), their opacity per mode.
 * ``perPoint`` keeps each point's nearest few neighbours only (a readable subset for many focused points). */
export function edgesOf(doc: NeighboursDoc, dims: number, mode: EdgeMode, from: Iterable<number> | null, factor = 1,
  perPoint: number | null = null): EdgeSet {
  const ext = doc.extent[`${dims}d`];
  const rows: number[] = from === null ? Array.from({ length: doc.n }, (_, i) => i) : [...from];
  const k = doc.k;
  const source = new Uint32Array(rows.length * k), target = new Uint32Array(rows.length * k), opacity = new Float32Array(rows.length * k);
  let e = 0;
  for (const i of rows) {
    const nbrs = doc.neighbors[i];
    if (!nbrs) continue;
    const keep = perPoint === null ? nbrs.length : Math.min(perPoint, nbrs.length); // neighbours come nearest first
    for (let r = 0; r < keep; r++) {
      source[e] = i;
      target[e] = nbrs[r];
      opacity[e] = mode === "top_k" || !ext ? 1 : gateOpacity(ext.edge_lengths[i][r], ext.radius[i], doc.gating.softness, factor);
      e++;
    }
  }
  return { source: source.subarray(0, e), target: target.subarray(0, e), opacity: opacity.subarray(0, e), count: e };
}
