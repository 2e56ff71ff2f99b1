// Reading a run's JSON artifacts, whichever format they are stored in, into ONE in-memory shape (the explorer and
// plugins' views, through the view kit's loadJson / useRunJson, read only this shape):
// - a 1-D array is a typed array (Float32Array, Int32Array, Uint16Array, Uint8Array ...; BOOL as Uint8Array 0 / 1);
// - a 2-D array is a Matrix: its values row-major in one typed array, and its row and column counts;
// - a projection's ``split`` is the list of split names ("heldout" / "train") per point, from the file's U8 codes
//   and its ``split_values``;
// - a kNN file's extent radii are ``radius_2d`` / ``radius_3d`` (Float32Array); edge lengths are not stored: a
//   reader computes them from the projection (gating.ts).
// New format (issue 24, latentdeck.kit.arrays): the JSON's ``arrays.file`` names the array file beside it; its
// arrays are views on the fetched bytes (no copy). The array file alone is an artifact too: its metadata holds the
// JSON's other fields, so the explorer switches epochs with one fetch (loadArtifact of the .safetensors name).
// Old format (every field inline): the explorer's artifacts (projections, kNN, thumbnail sheets, overlay grids)
// have their array fields turned into the same typed arrays once, on load; other files stay as they are.
import type { NdArray, TypedArray } from "./arrays";
import { parseArrayFile } from "./arrays";

export type { TypedArray } from "./arrays";

/** A 2-D array: ``data[i * cols + j]`` is element (i, j). */
export interface Matrix<T extends TypedArray = TypedArray> { data: T; rows: number; cols: number }

export const ARRAY_EXTENSION = ".safetensors";
export const SPLIT_VALUES = ["heldout", "train"] as const;

/** Row ``i`` of a matrix (a view, no copy). */
export const row = <T extends TypedArray>(m: Matrix<T>, i: number): T => m.data.subarray(i * m.cols, (i + 1) * m.cols) as T;
/** Element (i, j) of a matrix. */
export const at = (m: Matrix, i: number, j: number): number => m.data[i * m.cols + j];

/** The rows ``which`` of a matrix as arrays (views, no copy): for code that works point by point. */
export const rowsAt = <T extends TypedArray>(m: Matrix<T>, which: Iterable<number>): T[] => Array.from(which, (i) => row(m, i));

/** A matrix of ``f`` applied to each row (same shape, Float32). */
export function mapRows(m: Matrix, f: (r: TypedArray) => ArrayLike<number>): Matrix<Float32Array> {
  const data = new Float32Array(m.rows * m.cols);
  for (let i = 0; i < m.rows; i++) data.set(Array.from(f(row(m, i))).slice(0, m.cols), i * m.cols);
  return { data, rows: m.rows, cols: m.cols };
}

export function isMatrix(v: unknown): v is Matrix {
  return !!v && typeof v === "object" && ArrayBuffer.isView((v as Matrix).data) && typeof (v as Matrix).cols === "number";
}

/** A matrix of rows given as lists (old inline files). */
export function matrixOf<T extends TypedArray>(rows: readonly (readonly (number | null)[])[], make: (n: number) => T): Matrix<T> {
  const cols = rows.length ? rows[0].length : 0;
  const data = make(rows.length * cols);
  rows.forEach((r, i) => { for (let j = 0; j < cols; j++) data[i * cols + j] = r[j] ?? NaN; });
  return { data, rows: rows.length, cols };
}

type Kind = "f32" | "int" | "bool";
/** The explorer's array fields (docs/format: issue 24's decided names) and what an old inline list of each becomes. */
const FIELDS: Record<string, Kind> = {
  coords: "f32", indices: "int", labels: "int", predicted: "int", component: "int", trained: "bool",
  neighbors: "int", distances: "f32", d_k: "f32", radius_2d: "f32", radius_3d: "f32",
  mse: "f32", qc: "f32", qc_max: "f32", softmax: "f32", softmax_max: "f32", values: "f32", point_ratio: "f32",
};

const numeric = (v: unknown): v is (number | null)[] => Array.isArray(v) && v.every((x) => x === null || typeof x === "number");
const rowsOf = (v: unknown): v is (number | null)[][] => Array.isArray(v) && v.length > 0 && v.every(numeric);

function typedOf(kind: Kind, values: readonly (number | boolean | null)[]): TypedArray {
  if (kind === "f32") return Float32Array.from(values, (x) => (x === null ? NaN : Number(x)));
  if (kind === "bool") return Uint8Array.from(values, (x) => (x ? 1 : 0));
  return Int32Array.from(values, (x) => Number(x));
}

/** Whether an inline document is one of the explorer's artifacts (the only old files whose lists are converted). */
function explorerArtifact(doc: Record<string, unknown>): boolean {
  return ("coords" in doc && "method" in doc) || ("neighbors" in doc && "k" in doc) || ("png" in doc && "tile" in doc)
    || ("grid" in doc && "values" in doc);
}

/** One document in the in-memory shape: ``arrays`` (from the array file) merged under their names, or an old
 * explorer artifact's inline lists converted. */
export function normalise(doc: Record<string, unknown>, arrays: Record<string, NdArray> | null = null): Record<string, unknown> {
  const out: Record<string, unknown> = { ...doc };
  if (arrays) {
    for (const [name, a] of Object.entries(arrays)) {
      // an overlay's grid is read flat whatever shape it was stored in
      out[name] = a.shape.length === 2 && name !== "values" ? { data: a.data, rows: a.shape[0], cols: a.shape[1] } satisfies Matrix : a.data;
    }
  } else if (explorerArtifact(doc)) {
    for (const [name, kind] of Object.entries(FIELDS)) {
      const v = doc[name];
      if (name !== "values" && rowsOf(v) && v.every((r) => r.length === v[0].length)) {
        out[name] = matrixOf(v, (n) => (kind === "f32" ? new Float32Array(n) : kind === "bool" ? new Uint8Array(n) : new Int32Array(n)));
      } else if (numeric(v) || (kind === "bool" && Array.isArray(v) && v.every((x) => typeof x === "boolean"))) {
        out[name] = typedOf(kind, v as (number | boolean | null)[]);
      } else if (Array.isArray(v) && v.length === 0) {
        out[name] = typedOf(kind, []);
      }
    }
    const extent = doc.extent as Record<string, { dims?: number; scale?: number; radius?: unknown }> | undefined;
    if (extent && typeof extent === "object") { // old kNN files: radii inside the extent, edge lengths stored
      const kept: Record<string, { dims?: number; scale?: number }> = {};
      for (const [key, e] of Object.entries(extent)) {
        if (numeric(e?.radius) && out[`radius_${key}`] === undefined) out[`radius_${key}`] = typedOf("f32", e.radius);
        kept[key] = { dims: e?.dims, scale: e?.scale };
      }
      out.extent = kept;
    }
  }
  const split = out.split;
  if (ArrayBuffer.isView(split)) { // codes -> names
    const names = Array.isArray(out.split_values) ? (out.split_values as string[]) : [...SPLIT_VALUES];
    out.split = Array.from(split as TypedArray, (c) => names[c] ?? String(c));
  }
  return out;
}

/** The folder part of a run file's name ("projections/x.json" -> "projections/"). */
const folderOf = (name: string) => name.slice(0, name.lastIndexOf("/") + 1);

/** The array file beside a JSON artifact ("x/latent_2d_epoch_3.json" -> "x/latent_2d_epoch_3.safetensors"). */
export const arraysSibling = (name: string) => (name.endsWith(".json") ? name.slice(0, -5) : name) + ARRAY_EXTENSION;

async function fetched(url: string, name: string): Promise<Response> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${name}: the server answered ${r.status}`);
  return r;
}

/** Fetch one artifact into the in-memory shape. ``name``: a JSON file (its array file, if it names one, is fetched
 * too) or an array file (one fetch: its metadata holds the JSON's fields). ``urlOf`` gives a run file's URL. */
export async function readArtifact<T = unknown>(urlOf: (name: string) => string, name: string): Promise<T> {
  if (name.endsWith(ARRAY_EXTENSION)) {
    const { arrays, meta } = parseArrayFile(await (await fetched(urlOf(name), name)).arrayBuffer(), name);
    return normalise(meta, arrays) as T;
  }
  const doc: unknown = await (await fetched(urlOf(name), name)).json();
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) return doc as T;
  const pointer = (doc as { arrays?: { file?: unknown } }).arrays;
  if (pointer && typeof pointer.file === "string") {
    if (/[/\\]/.test(pointer.file) || pointer.file.startsWith(".")) throw new Error(`${name}: its array file must sit beside it, got ${pointer.file}`);
    const file = folderOf(name) + pointer.file;
    const { arrays } = parseArrayFile(await (await fetched(urlOf(file), file)).arrayBuffer(), file);
    return normalise(doc as Record<string, unknown>, arrays) as T;
  }
  return normalise(doc as Record<string, unknown>) as T;
}
