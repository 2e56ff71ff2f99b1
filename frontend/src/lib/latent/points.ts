// What each point looks like: colour by label / prediction / component / confidence / training split,
// dimmed outside the focused set or the filter, hidden when its legend entry is off. Pure functions of
// persisted values (projection file, thumbnail sheet index) and UI state.
import type { Matrix, TypedArray } from "../artifacts";
import { categoryColour, confidenceT, TRAINED_COLOURS, viridis } from "./colour";
import type { RGB } from "./colour";
import { componentColour } from "./matching";
import type { ComponentMapping } from "./matching";

export type ColourBy = "label" | "predicted" | "component" | "confidence" | "split";

/** The fields of a projection file the explorer reads (latentdeck.projections.ProjectionFile), in the in-memory
 * shape of lib/artifacts.ts: typed arrays per point, the coordinates an n x dims Matrix, the split as names. */
export interface ProjectionDoc {
  epoch: number;
  method: string;
  dims: number;
  n: number;
  latent: string;
  latent_dim: number;
  indices: TypedArray;
  labels: TypedArray;
  predicted?: TypedArray | null;
  component?: TypedArray | null;
  split?: ("heldout" | "train")[] | null;
  /** 1: trained on, 0: a training digit left out of training (a BOOL array) */
  trained?: TypedArray | null;
  coords: Matrix<Float32Array>;
  bounds: number[][];
  params?: Record<string, unknown>;
  trustworthiness?: { k: number; n: number; value: number | null };
  explained_variance_ratio?: number[];
}

/** A thumbnail sheet index (roles "input-thumbnails" and, per epoch, "reconstruction-thumbnails"; SPEC.md
 * "Explorer roles"): the sheet's layout and per-point values. */
export interface SheetDoc {
  kind: "inputs" | "reconstructions";
  epoch?: number;
  n: number;
  tile: [number, number];
  columns: number;
  rows: number;
  indices: TypedArray;
  labels?: TypedArray;
  /** the sheet's PNG; null when the sheet is drawn only when asked for (more points than its computation draws per epoch) */
  png: string | null;
  /** with ``png: null``: the request that draws the sheet once (its answer is then ``png``) and why */
  png_on_demand?: { computation: string; request: Record<string, unknown>; png: string; why?: string };
  mse?: Float32Array;
  qc?: Matrix<Float32Array>;
  qc_max?: Float32Array;
  softmax?: Matrix<Float32Array>;
  softmax_max?: Float32Array;
}

export const ALPHA = { base: 220, dim: 26, hidden: 0 };

/** Which categorical values a point has under a colouring (null when the colouring is continuous). */
export function categoryOf(doc: ProjectionDoc, by: ColourBy, i: number): number | string | null {
  switch (by) {
    case "label": return doc.labels[i];
    case "predicted": return doc.predicted?.[i] ?? null;
    case "component": return doc.component?.[i] ?? null;
    case "split": return splitOf(doc, i);
    default: return null;
  }
}

export function splitOf(doc: ProjectionDoc, i: number): "heldout" | "trained" | "train_unused" {
  if ((doc.split?.[i] ?? "heldout") === "heldout") return "heldout";
  return doc.trained && doc.trained[i] === 0 ? "train_unused" : "trained";
}

/** A dataset key that names a point across epochs and files: "heldout:12" or "train:40". */
export const pointKey = (doc: ProjectionDoc, i: number) => `${doc.split?.[i] ?? "heldout"}:${doc.indices[i]}`;

/** Every point's key, in the file's point order. */
export function pointKeys(doc: ProjectionDoc): string[] {
  const out = new Array<string>(doc.indices.length);
  for (let i = 0; i < out.length; i++) out[i] = pointKey(doc, i);
  return out;
}

/** key -> position in the file's point order. */
export const keyIndex = (doc: ProjectionDoc | null): Map<string, number> => new Map(doc ? pointKeys(doc).map((k, i) => [k, i]) : []);

export function confidenceOf(doc: ProjectionDoc, sheet: SheetDoc | null, i: number): { value: number; floor: number; source: string } | null {
  if (sheet?.qc_max && sheet.qc) return { value: sheet.qc_max[i], floor: 1 / sheet.qc.cols, source: "max q(c|x)" };
  if (sheet?.softmax_max) return { value: sheet.softmax_max[i], floor: 0.1, source: "max softmax" };
  return null;
}

/** A point's colour; components take their matched digit's colour when ``mapping`` is given (see matching.ts). */
export function pointColour(doc: ProjectionDoc, by: ColourBy, sheet: SheetDoc | null, i: number, mapping: ComponentMapping | null = null): RGB {
  if (by === "confidence") {
    const c = confidenceOf(doc, sheet, i);
    return c ? viridis(confidenceT(c.value, c.floor)) : [150, 150, 150];
  }
  if (by === "split") return TRAINED_COLOURS[splitOf(doc, i)];
  const c = categoryOf(doc, by, i);
  if (typeof c !== "number") return [150, 150, 150];
  return by === "component" ? componentColour(mapping, c) : categoryColour(c);
}

export interface LookOptions {
  by: ColourBy;
  sheet: SheetDoc | null;
  hidden: ReadonlySet<string>; // category values switched off in the legend (as strings)
  focus: ReadonlySet<number> | null; // subset positions kept bright (others dim)
  filter: ReadonlySet<number> | null; // subset positions matching the search (others dim)
  mapping?: ComponentMapping | null; // matched component colours (absent: components by number)
}

/** RGBA per point (n x 4) for the GPU. */
export function colourBuffer(doc: ProjectionDoc, o: LookOptions, out?: Uint8Array): Uint8Array {
  const n = doc.indices.length;
  const buffer = out && out.length === 4 * n ? out : new Uint8Array(4 * n);
  for (let i = 0; i < n; i++) {
    const [r, g, b] = pointColour(doc, o.by, o.sheet, i, o.mapping ?? null);
    const category = categoryOf(doc, o.by, i);
    let alpha = ALPHA.base;
    if (category !== null && o.hidden.has(String(category))) alpha = ALPHA.hidden;
    else if ((o.focus && !o.focus.has(i)) || (o.filter && !o.filter.has(i))) alpha = ALPHA.dim;
    buffer[4 * i] = r; buffer[4 * i + 1] = g; buffer[4 * i + 2] = b; buffer[4 * i + 3] = alpha;
  }
  return buffer;
}

/** The colourings this run's files support. */
export function colourChoices(doc: ProjectionDoc | null, sheet: SheetDoc | null): { value: ColourBy; label: string }[] {
  const out: { value: ColourBy; label: string }[] = [{ value: "label", label: "label (true digit)" }];
  if (doc?.predicted) out.push({ value: "predicted", label: "prediction (classifier)" });
  if (doc?.component) out.push({ value: "component", label: "component (argmax q(c|x))" });
  if (sheet?.qc_max || sheet?.softmax_max) out.push({ value: "confidence", label: sheet.qc_max ? "confidence (max q(c|x))" : "confidence (max softmax)" });
  if (doc?.split) out.push({ value: "split", label: "trained on or held out" });
  return out;
}
