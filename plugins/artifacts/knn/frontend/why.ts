// "Why is this digit here?": a focused point's latent neighbours from the kNN file, what they have in
// common with it, and the model's own answer (the classifier's probabilities, or q(c|x)) from the atlas.
// Pure functions over the persisted files; the panel (components/latent/WhyPanel.tsx) draws them.
import type { Matrix, SheetDoc, NeighboursDoc, ProjectionDoc } from "@latentdeck/view-kit/explorer";

/** Row ``i`` of a file's matrix (n x k, row-major in one typed array) as a list, or undefined past its end. */
const rowOf = (m: Matrix | null | undefined, i: number): number[] | undefined =>
  (m && i >= 0 && i < m.rows ? Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)) : undefined);

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

/** The k latent neighbours of subset position ``i`` (nearest first), or null when the kNN file does not fit the map. */
export function neighbourRows(knn: NeighboursDoc | null, doc: ProjectionDoc, i: number): NeighbourRow[] | null {
  const neighbours = knn && knn.n === doc.n ? rowOf(knn.neighbors, i) : undefined;
  if (!knn || !neighbours) return null;
  return neighbours.map((j, r) => ({
    rank: r + 1, position: j, index: doc.indices[j], split: (doc.split?.[j] ?? "heldout") as "heldout" | "train",
    label: doc.labels[j], predicted: doc.predicted?.[j] ?? null, component: doc.component?.[j] ?? null,
    distance: knn.distances.data[i * knn.distances.cols + r],
  }));
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
  const probs = rowOf(recon?.softmax, i);
  const top = recon?.softmax_max?.[i];
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
  const qc = rowOf(recon?.qc, i);
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
