// "What changed since the last epoch": the explorer's difference mode, from persisted files only.
// - Points of two epochs are matched by their dataset key (pointKey), never by position in a file.
// - Neighbourhood change of a point = 1 − Jaccard of its k latent neighbours in the two epochs' neighbours
//   files (role "neighbours"). Neighbours are latent-space, so this score is about what the
//   model learned, whatever the projection did.
// - The move between the two maps is split into what one similarity transform of the whole map explains
//   (turn or mirror, uniform growth, shift: re-orientation; see similarity.ts) and the rest (learning).
import type { RGB } from "./colour";
import type { NeighboursDoc } from "./gating";
import { basisEpoch } from "./pcaBasis";
import { pointKey, pointKeys } from "./points";
import { isMatrix, row } from "../artifacts";
import type { Matrix } from "../artifacts";
import type { ProjectionDoc } from "./points";

/** The keys of a kNN file's rows. The file lists the same subset in the same order as its epoch's
 * projection file, whose split tells held-out and training digits apart; without that file (or when the
 * orders differ) the kNN file's `indices` are read as held-out dataset indices, which is what they are. */
export function neighbourKeys(graph: Pick<NeighboursDoc, "indices">, doc: ProjectionDoc | null): string[] {
  const aligned = doc !== null && doc.indices.length === graph.indices.length && doc.indices.every((v, i) => v === graph.indices[i]);
  return Array.from(graph.indices, (index, i) => (aligned ? pointKey(doc, i) : `heldout:${index}`));
}

/** Positions of the points present in both files: `shownAt[m]` in the shown file is `previousAt[m]` in the other. */
export interface Matched {
  shownAt: Uint32Array;
  previousAt: Uint32Array;
  count: number;
}

export function matchKeys(previousKeys: readonly string[], currentKeys: readonly string[]): Matched {
  const at = new Map<string, number>();
  previousKeys.forEach((key, j) => { if (!at.has(key)) at.set(key, j); });
  const shownAt = new Uint32Array(currentKeys.length), previousAt = new Uint32Array(currentKeys.length);
  let count = 0;
  currentKeys.forEach((key, i) => {
    const j = at.get(key);
    if (j === undefined) return;
    shownAt[count] = i;
    previousAt[count] = j;
    count++;
  });
  return { shownAt: shownAt.subarray(0, count), previousAt: previousAt.subarray(0, count), count };
}

export function matchPoints(previous: ProjectionDoc, current: ProjectionDoc): Matched {
  return matchKeys(pointKeys(previous), pointKeys(current));
}

export interface NeighbourhoodChange {
  /** per row of the current kNN file: 1 − Jaccard of its neighbour sets; NaN where the point has no row in the previous file */
  change: Float64Array;
  /** per row: how many of its previous neighbours it kept (−1 where not compared) */
  kept: Int32Array;
  /** points with a row in both files */
  compared: number;
  /** of those, the points that kept fewer than half of their previous neighbours (2 · kept < previous k) */
  keptFewerThanHalf: number;
  /** median change over the compared points (NaN when none) */
  median: number;
}

/** The neighbourhood change of every point, from each file's row keys and neighbour lists (positions in
 * that file's rows). Neighbours are compared by key, so the two files may list their points in any order. */
/** Neighbour lists: a kNN file's n x k matrix, or one list per row. */
export type NeighbourRows = Matrix | readonly (readonly number[])[];
const rowAt = (rows: NeighbourRows, i: number): ArrayLike<number> =>
  (isMatrix(rows) ? (i < rows.rows ? row(rows, i) : []) : rows[i] ?? []);

export function neighbourhoodChange(previousKeys: readonly string[], previousNeighbours: NeighbourRows,
  currentKeys: readonly string[], currentNeighbours: NeighbourRows): NeighbourhoodChange {
  const ids = new Map<string, number>(); // one integer per key over both files
  const id = (key: string) => {
    let v = ids.get(key);
    if (v === undefined) { v = ids.size; ids.set(key, v); }
    return v;
  };
  const previousIds = previousKeys.map(id), currentIds = currentKeys.map(id);
  const previousRow = new Map<number, number>();
  previousIds.forEach((v, j) => { if (!previousRow.has(v)) previousRow.set(v, j); });
  const n = currentKeys.length;
  const change = new Float64Array(n).fill(NaN), kept = new Int32Array(n).fill(-1);
  const stamp = new Int32Array(ids.size).fill(-1); // stamp[v] === i: v is one of point i's previous neighbours
  const seen = new Int32Array(ids.size).fill(-1); // seen[v] === i: v already counted among point i's current neighbours
  const values: number[] = [];
  let fewer = 0;
  for (let i = 0; i < n; i++) {
    const j = previousRow.get(currentIds[i]);
    if (j === undefined) continue;
    let before = 0;
    for (const q of Array.from(rowAt(previousNeighbours, j))) {
      const v = previousIds[q];
      if (v !== undefined && stamp[v] !== i) { stamp[v] = i; before++; }
    }
    let now = 0, both = 0;
    for (const q of Array.from(rowAt(currentNeighbours, i))) {
      const v = currentIds[q];
      if (v === undefined || seen[v] === i) continue;
      seen[v] = i;
      now++;
      if (stamp[v] === i) both++;
    }
    const union = before + now - both;
    change[i] = union === 0 ? 0 : 1 - both / union;
    kept[i] = both;
    values.push(change[i]);
    if (2 * both < before) fewer++;
  }
  return { change, kept, compared: values.length, keptFewerThanHalf: fewer, median: median(values) };
}

/** Two epochs' kNN files, with their projection files (for the keys of training digits; may be null). */
export function neighbourhoodChangeOf(previous: NeighboursDoc, previousDoc: ProjectionDoc | null, current: NeighboursDoc,
  currentDoc: ProjectionDoc | null): NeighbourhoodChange {
  return neighbourhoodChange(neighbourKeys(previous, previousDoc), previous.neighbors, neighbourKeys(current, currentDoc), current.neighbors);
}

export function median(values: readonly number[]): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
}

/** A whole percentage ("38 %"), with "< 1 %" and "> 99 %" so that a few points never read as none or all. */
export function percent(part: number, whole: number): string {
  if (!(whole > 0)) return "–";
  const p = (100 * part) / whole;
  if (p > 0 && p < 1) return "< 1 %";
  if (p < 100 && p > 99) return "> 99 %";
  return `${Math.round(p)} %`;
}

/** The difference mode's headline: "38 % of points kept fewer than half their neighbours (epoch 4 → 5)". */
export function changeHeadline(c: Pick<NeighbourhoodChange, "compared" | "keptFewerThanHalf">, from: number, to: number): string {
  if (c.compared === 0) return `No point is in both epochs' neighbour files (epoch ${from} → ${to}).`;
  return `${percent(c.keptFewerThanHalf, c.compared)} of points kept fewer than half their neighbours (epoch ${from} → ${to})`;
}

// 0: the same neighbours (a quiet blue-grey), 0.5: half of them new (orange), 1: all new (crimson); the
// hue carries the order, so it reads on the light and the dark map alike.
const CHANGE_STOPS: RGB[] = [[128, 146, 170], [230, 159, 0], [176, 0, 58]];
export const NO_CHANGE_VALUE: RGB = [150, 150, 150];

export function changeColour(t: number): RGB {
  if (!Number.isFinite(t)) return NO_CHANGE_VALUE;
  const x = Math.min(Math.max(t, 0), 1) * (CHANGE_STOPS.length - 1);
  const i = Math.min(Math.floor(x), CHANGE_STOPS.length - 2), f = x - i;
  const a = CHANGE_STOPS[i], b = CHANGE_STOPS[i + 1];
  return [Math.round(a[0] + (b[0] - a[0]) * f), Math.round(a[1] + (b[1] - a[1]) * f), Math.round(a[2] + (b[2] - a[2]) * f)];
}

/** The shown colours with every point's colour replaced by its neighbourhood change (each point keeps its
 * alpha: dimmed outside the focus or the filter). `change` is per row of the current kNN file, `rows[i]` the
 * row of map point i (or −1). */
export function changeColours(base: Uint8Array, change: Float64Array, rows: Int32Array): Uint8Array {
  const out = new Uint8Array(base.length);
  for (let i = 0; i < base.length / 4; i++) {
    const r = rows[i];
    const [red, green, blue] = changeColour(r >= 0 ? change[r] : NaN);
    out[4 * i] = red; out[4 * i + 1] = green; out[4 * i + 2] = blue; out[4 * i + 3] = base[4 * i + 3];
  }
  return out;
}

/** A short line per point from where it was to where it is (world units, 3 per point), coloured as the point;
 * the ScatterCanvas draws it under the points, faded toward the old end. */
export interface TrailSet {
  from: Float32Array;
  to: Float32Array;
  /** 4 per trail (RGBA) */
  colours: Uint8Array;
  count: number;
}

const TRAIL_ALPHA = 210;

/** Trails of the matched points: from `previousWorld` (previous positions, n_prev x 3, already in the shown
 * map's world units) to `currentWorld` (n x 3), in the colour of the current point (its alpha capped). */
export function trailSet(m: Matched, previousWorld: Float32Array, currentWorld: Float32Array, colours: Uint8Array): TrailSet {
  const from = new Float32Array(3 * m.count), to = new Float32Array(3 * m.count), rgba = new Uint8Array(4 * m.count);
  for (let t = 0; t < m.count; t++) {
    const i = m.shownAt[t], j = m.previousAt[t];
    from.set(previousWorld.subarray(3 * j, 3 * j + 3), 3 * t);
    to.set(currentWorld.subarray(3 * i, 3 * i + 3), 3 * t);
    rgba.set(colours.subarray(4 * i, 4 * i + 3), 4 * t);
    rgba[4 * t + 3] = Math.min(TRAIL_ALPHA, colours[4 * i + 3] ?? 0);
  }
  return { from, to, colours: rgba, count: m.count };
}

/** What the projection itself did to keep the map still between the two epochs, in words (null when it says
 * nothing): a PCA file's `params.alignment` (carried axes, a Procrustes turn, matched signs, or none), and
 * for UMAP that its orientation means nothing. */
export function alignmentNote(doc: ProjectionDoc, previousEpoch: number, epochs: number[]): string | null {
  if (doc.method === "umap") return "UMAP's axes mean nothing: a turn or mirror of the whole map carries no information, only the residual does.";
  if (doc.method !== "pca") return null;
  const alignment = doc.params?.alignment as { method?: string; reflection?: boolean } | undefined;
  switch (alignment?.method) {
    case "carried": {
      const from = basisEpoch(doc, epochs);
      return `PCA here carries the axes of ${from !== null ? `epoch ${from}` : "an earlier epoch"}, re-fitted to this epoch's codes to agree `
        + `with epoch ${previousEpoch}'s map: the projection already holds the map still, so little turning is left to see.`;
    }
    case "procrustes":
      return `PCA shows this epoch's own principal axes, turned${alignment.reflection ? " and mirrored" : ""} (orthogonal Procrustes) to agree `
        + `with epoch ${previousEpoch}'s map: the re-orientation left here is what that turn did not remove.`;
    case "signs":
      return `PCA shows this epoch's own principal axes with their signs matched to epoch ${previousEpoch}'s; it does not undo a turn.`;
    case "none":
      return `PCA's axes here are not aligned with epoch ${previousEpoch}'s (signs from the loadings): a turn or mirror is expected.`;
    default:
      return null;
  }
}
