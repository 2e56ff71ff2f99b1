// Focus mode: a clicked point or a lasso's points ("anchors") with their k latent neighbours (from the
// kNN file of the shown epoch), and the export of that set.
import { row } from "../artifacts";
import type { NeighboursDoc } from "./gating";
import { pointKey, splitOf } from "./points";
import type { ProjectionDoc, SheetDoc } from "./points";

export interface FocusSet {
  anchors: number[]; // subset positions the person chose
  members: Set<number>; // anchors and their neighbours
  neighbourOf: Map<number, number[]>; // neighbour position -> anchors it neighbours
}

export function focusOf(anchors: number[], neighbours: NeighboursDoc | null): FocusSet {
  const chosen = new Set(anchors);
  const members = new Set(anchors);
  const neighbourOf = new Map<number, number[]>();
  if (neighbours) {
    for (const a of anchors) {
      for (const j of a >= 0 && a < neighbours.neighbors.rows ? row(neighbours.neighbors, a) : []) {
        if (chosen.has(j)) continue;
        members.add(j);
        neighbourOf.set(j, [...(neighbourOf.get(j) ?? []), a]);
      }
    }
  }
  return { anchors, members, neighbourOf };
}

export interface FocusRow {
  dataset_index: number;
  split: "heldout" | "train";
  trained: boolean;
  role: "chosen" | "neighbour";
  label: number;
  predicted: number | null;
  component: number | null;
  qc_max: number | null;
  coords: number[];
}

export function focusRows(f: FocusSet, doc: ProjectionDoc, sheet: SheetDoc | null): FocusRow[] {
  const rows: FocusRow[] = [];
  const order = [...f.anchors, ...[...f.members].filter((i) => !f.anchors.includes(i)).sort((a, b) => a - b)];
  for (const i of order) {
    rows.push({
      dataset_index: doc.indices[i], split: doc.split?.[i] ?? "heldout", trained: splitOf(doc, i) === "trained",
      role: f.anchors.includes(i) ? "chosen" : "neighbour", label: doc.labels[i], predicted: doc.predicted?.[i] ?? null,
      component: doc.component?.[i] ?? null, qc_max: sheet?.qc_max?.[i] ?? null, coords: Array.from(row(doc.coords, i)),
    });
  }
  return rows;
}

export function focusCsv(rows: FocusRow[], dims: number): string {
  const axes = ["x", "y", "z"].slice(0, dims);
  const head = ["dataset_index", "split", "trained", "role", "label", "predicted", "component", "qc_max", ...axes];
  const cell = (v: unknown) => (v === null || v === undefined ? "" : String(v));
  return [head.join(","), ...rows.map((r) => [r.dataset_index, r.split, r.trained, r.role, r.label, r.predicted, r.component,
    r.qc_max, ...r.coords.slice(0, dims)].map(cell).join(","))].join("\n") + "\n";
}

export function focusJson(rows: FocusRow[], context: Record<string, unknown>): string {
  return JSON.stringify({ ...context, count: rows.length, points: rows }, null, 1);
}

export { pointKey };
