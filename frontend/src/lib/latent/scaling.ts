// Method- and dimension-aware scaling of a projection into the explorer's world units, derived only from
// the persisted bounds. Every axis gets the same factor, so distances (and the kNN extent radii and edge
// lengths of the neighbour files, which are in projection units) keep their proportions.
//
// PCA: the origin is the latent mean (PCA centres its input), so the view keeps it at the centre and
// scales by the largest |coordinate|: growth or shrinkage of the latent cloud between epochs stays
// visible relative to the origin. UMAP (and other nonlinear maps): coordinates have no meaningful origin,
// so the view centres the bounding box and scales by its largest half-range.

import type { Matrix } from "../artifacts";

export type Bounds = number[][]; // [min, max] per axis

export interface Scaling {
  centre: [number, number, number];
  scale: number; // world units per projection unit
  /** half-extent of the scaled cloud per axis (world units): at most 1 */
  half: [number, number, number];
}

export const LINEAR_ORIGIN_METHODS: ReadonlySet<string> = new Set(["pca"]);

export function scalingOf(method: string, dims: number, bounds: Bounds): Scaling {
  const axes = [0, 1, 2].map((a) => (a < dims && bounds[a] ? bounds[a] : [0, 0]));
  const centred = LINEAR_ORIGIN_METHODS.has(method);
  const centre = axes.map(([lo, hi]) => (centred ? 0 : (lo + hi) / 2)) as [number, number, number];
  const reach = axes.map(([lo, hi], a) => Math.max(Math.abs(lo - centre[a]), Math.abs(hi - centre[a])));
  const largest = Math.max(...reach);
  const scale = largest > 0 && Number.isFinite(largest) ? 1 / largest : 1;
  return { centre, scale, half: reach.map((r) => r * scale) as [number, number, number] };
}

/** World coordinates (n x 3, z = 0 in 2-D) of projection coordinates (an n x dims matrix): one pass over the
 * file's typed array into the GPU's position buffer. */
export function toWorld(coords: Matrix, dims: number, s: Scaling, out?: Float32Array): Float32Array {
  const n = coords.rows, d = coords.cols, c = coords.data;
  const world = out && out.length === n * 3 ? out : new Float32Array(n * 3);
  const [cx, cy, cz] = s.centre, k = s.scale, three = dims > 2 && d > 2;
  for (let i = 0; i < n; i++) {
    world[3 * i] = (c[i * d] - cx) * k;
    world[3 * i + 1] = (c[i * d + 1] - cy) * k;
    world[3 * i + 2] = three ? (c[i * d + 2] - cz) * k : 0;
  }
  return world;
}

/** The zoom (log2 pixels per world unit) that fits the cloud in a viewport with a margin on each side.
 * 2-D fits the scaled bounding box. 3-D fits a sphere around the cloud: the box's corners are rarely
 * occupied, so the sphere is 0.8 of the box's half-diagonal, never less than its longest half-axis. */
export function fitZoom(dims: number, s: Scaling, width: number, height: number, margin = 0.08): number {
  const usable = (1 - 2 * margin);
  if (dims > 2) {
    const radius = Math.max(0.8 * Math.hypot(s.half[0], s.half[1], s.half[2]), ...s.half) || 1;
    return Math.log2((Math.min(width, height) * usable) / (2 * radius));
  }
  const hx = s.half[0] || 1, hy = s.half[1] || 1;
  return Math.log2(Math.min((width * usable) / (2 * hx), (height * usable) / (2 * hy)));
}

/** On-screen point radius in pixels: smaller as the count grows, a little smaller in 3-D (depth overlaps). */
export function pointRadiusPx(n: number, dims: number): number {
  const r = n <= 250 ? 5 : n <= 1000 ? 3.6 : n <= 4000 ? 2.6 : 1.9;
  return dims > 2 ? r * 0.85 : r;
}

/** Where to look to see the points ``indices`` of ``world`` (n x 3): the centre of their bounding box and
 * the zoom that fits them with a margin (2-D: the box; 3-D: the sphere around the centre through the
 * farthest of them, whatever the rotation). A single point (or a tight group) is shown at most at
 * ``maxZoom``, with about a tenth of the map around it. Null when there is nothing to fit. */
export function fitToPoints(world: Float32Array, indices: Iterable<number>, dims: number, width: number, height: number,
  maxZoom = 14, margin = 0.12): { target: [number, number, number]; zoom: number } | null {
  const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
  const picked: number[] = [];
  for (const i of indices) {
    if (3 * i + 2 >= world.length) continue;
    picked.push(i);
    for (let a = 0; a < 3; a++) {
      lo[a] = Math.min(lo[a], world[3 * i + a]);
      hi[a] = Math.max(hi[a], world[3 * i + a]);
    }
  }
  if (!picked.length) return null;
  const target = [0, 1, 2].map((a) => (lo[a] + hi[a]) / 2) as [number, number, number];
  const usable = 1 - 2 * margin, floor = 0.1; // never closer than a tenth of the unit map
  let zoom: number;
  if (dims > 2) {
    let radius = 0;
    for (const i of picked) radius = Math.max(radius, Math.hypot(world[3 * i] - target[0], world[3 * i + 1] - target[1], world[3 * i + 2] - target[2]));
    zoom = Math.log2((Math.min(width, height) * usable) / (2 * Math.max(radius, floor)));
  } else {
    const hx = Math.max((hi[0] - lo[0]) / 2, floor), hy = Math.max((hi[1] - lo[1]) / 2, floor);
    zoom = Math.log2(Math.min((width * usable) / (2 * hx), (height * usable) / (2 * hy)));
  }
  return { target, zoom: Math.min(zoom, maxZoom) };
}
