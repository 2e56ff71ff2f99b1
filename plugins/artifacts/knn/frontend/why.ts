// "Why is this digit here?": a focused point's latent neighbours from the kNN file, what they have in
// common with it, and the model's own answer (the classifier's probabilities, or q(c|x)) from the atlas.
// Pure functions over the persisted files; the panel (components/latent/WhyPanel.tsx) draws them. The n × k and
// n × C tables read the same from nested lists (older files) and from an array file's flat typed arrays (rowOf).
import type { SheetDoc, NeighboursDoc, ProjectionDoc } from "@latentdeck/view-kit/explorer";

export interface NeighbourRow {
  rank: number; // 1 = nearest
  position: number; // subset position (in the projection file)
  index: number; // dataset index
  split: "heldout" | "train";
  label: number;
  predicted: number | null;
  component: number | null;
  distance: number; // latent distance
}

/** Row ``i`` of a per-point table (n rows of ``width`` values), whichever way the reader gives it: nested lists
 * (files written before the array files), a flat row-major typed array (an array file's n × width array; its
 * ``shape`` when the reader attaches one wins over ``width``), or ``{data, shape}``. Null when there is no row i. */
export function rowOf(table: unknown, i: number, width?: number): number[] | null {
  if (table === null || table === undefined) return null;
  if (Array.isArray(table)) {
    const row: unknown = table[i];
    return Array.isArray(row) ? (row as number[]) : null;
  }
  const wrapped = table as { data?: unknown; shape?: number[] };
  const flat = ArrayBuffer.isView(table) ? table : ArrayBuffer.isView(wrapped.data) ? wrapped.data : null;
  if (!flat || flat instanceof DataView) return null;
  const values = flat as unknown as { length: number; subarray(a: number, b: number): ArrayLike<number> };
  const w = wrapped.shape?.[1] ?? width;
  if (!w || i < 0 || (i + 1) * w > values.length) return null;
  return Array.from(values.subarray(i * w, (i + 1) * w), Number);
}

/** Value ``i`` of a per-point column (a list or a typed array). */
function valueOf(column: ArrayLike<number> | null | undefined, i: number): number | undefined {
  return column && i >= 0 && i < column.length ? Number(column[i]) : undefined;
}

/** The k latent neighbours of subset position ``i`` (nearest first), or null when the kNN file does not fit the map. */
export function neighbourRows(knn: NeighboursDoc | null, doc: ProjectionDoc, i: number): NeighbourRow[] | null {
  if (!knn || knn.n !== doc.n) return null;
  const neighbours = rowOf(knn.neighbors, i, knn.k);
  const distances = rowOf(knn.distances, i, knn.k);
  if (!neighbours || !distances) return null;
  return neighbours.map((j, r) => ({
    rank: r + 1, position: j, index: doc.indices[j], split: (doc.split?.[j] ?? "heldout") as "heldout" | "train",
    label: doc.labels[j], predicted: doc.predicted?.[j] ?? null, component: doc.component?.[j] ?? null,
    distance: distances[r],
  }));
}

/** Columns per row of a sheet's n × C table (softmax, qc) stored flat: its length over the sheet's n. */
function widthOf(recon: SheetDoc, table: unknown): number | undefined {
  const length = (table as { length?: number } | null)?.length;
  return recon.n && length ? length / recon.n : undefined;
}

/** Counts of a column's values among the rows, most common first (ties: smaller value first). */
export function tally(values: number[]): [number, number][] {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
}

/** One sentence on where the point sits, read off its neighbours' labels: among its own kind, on a border,
 * or among another digit. ``name`` turns a class number into words. */
export function whereItSits(label: number, rows: NeighbourRow[], name: (c: number) => string): string {
  const k = rows.length;
  if (!k) return "";
  const counts = tally(rows.map((r) => r.label));
  const same = counts.find(([v]) => v === label)?.[1] ?? 0;
  const [top, topCount] = counts[0];
  const others = counts.filter(([v]) => v !== label).slice(0, 2).map(([v, c]) => `${c} ${name(v)}`).join(", ");
  if (same === k) return `All ${k} of its nearest neighbours in latent space are ${name(label)}s like it: it sits inside its own digit's cluster.`;
  if (top !== label && topCount > k / 2) {
    return `It is labelled ${name(label)}, but ${topCount} of its ${k} nearest neighbours are ${name(top)}s: the model places it among another digit (a look-alike, an unusual way of writing it, or a wrong label).`;
  }
  if (same >= k / 2) return `${same} of its ${k} nearest neighbours are ${name(label)}s like it (others: ${others}): it sits near the edge of its digit's cluster.`;
  return `Only ${same} of its ${k} nearest neighbours are ${name(label)}s (others: ${others}): it sits where several digits meet.`;
}

export interface ModelAnswer {
  kind: "classifier" | "mixture";
  probabilities: number[];
  best: number;
  text: string;
}

/** The model's own reading of the point: the classifier's probabilities (AE) or q(c|x) (GM-VAE). */
export function modelAnswer(recon: SheetDoc | null, i: number, label: number, name: (c: number) => string,
  componentName: (c: number) => string, predicted: number | null = null): ModelAnswer | null {
  const probs = recon ? rowOf(recon.softmax, i, widthOf(recon, recon.softmax)) : null;
  const top = valueOf(recon?.softmax_max, i);
  if (!probs && top !== undefined && predicted !== null) { // an atlas written before it kept every class's probability
    const verdict = predicted === label ? "agrees with the label" : `disagrees with the label ${name(label)}`;
    return { kind: "classifier", probabilities: [], best: predicted,
      text: `The classifier says ${name(predicted)} with probability ${top.toFixed(2)} (${verdict}); this run's atlas predates the per-digit probabilities (latentdeck backfill writes them).` };
  }
  if (probs) {
    const best = argmax(probs);
    const verdict = best === label ? "agrees with the label" : `disagrees with the label ${name(label)}`;
    return { kind: "classifier", probabilities: probs, best,
      text: `The classifier says ${name(best)} with probability ${probs[best].toFixed(2)} (${verdict}).` };
  }
  const qc = recon ? rowOf(recon.qc, i, widthOf(recon, recon.qc)) : null;
  if (qc) {
    const best = argmax(qc);
    const spread = qc[best] < 0.5 ? " It is split between components: the encoder is unsure where it belongs." : "";
    return { kind: "mixture", probabilities: qc, best, text: `q(c|x) puts it in ${componentName(best)} with ${qc[best].toFixed(2)}.${spread}` };
  }
  return null;
}

function argmax(values: number[]): number {
  let best = 0;
  for (let j = 1; j < values.length; j++) if (values[j] > values[best]) best = j;
  return best;
}
