// Array files (latentdeck.kit.arrays): the safetensors layout, read without copying. An array file is
//   bytes 0..8   N, the header's length (unsigned 64-bit little-endian);
//   bytes 8..8+N the header, UTF-8 JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
//                {"latentdeck": "<JSON text of the artifact's other fields>"}}, space-padded to a multiple of 8;
//   then each array's bytes (offsets relative to the data start), widest dtype first.
// The Python writer aligns every array to its item size, so each one becomes a typed-array VIEW on the fetched
// buffer (no copy); a file from another writer whose array is not aligned is copied once, never misread.

export type TypedArray = Float64Array | Float32Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array;

/** One array of a file: its values (row-major) and shape. BOOL arrays are Uint8Array (0 / 1). */
export interface NdArray { dtype: string; shape: number[]; data: TypedArray }

type Ctor = { new (buffer: ArrayBufferLike, offset: number, length: number): TypedArray; new (length: number): TypedArray; BYTES_PER_ELEMENT: number };

const CTORS: Record<string, Ctor> = {
  F64: Float64Array, F32: Float32Array, I32: Int32Array, U32: Uint32Array, I16: Int16Array, U16: Uint16Array,
  I8: Int8Array, U8: Uint8Array, BOOL: Uint8Array,
};

export class ArrayFileError extends Error {}

const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** ``{arrays, meta}`` of an array file's bytes: typed-array views on ``buffer`` and the artifact's JSON fields. */
export function parseArrayFile(buffer: ArrayBuffer, where = "the array file"): { arrays: Record<string, NdArray>; meta: Record<string, unknown> } {
  if (buffer.byteLength < 8) throw new ArrayFileError(`${where} is too short to be an array file (${buffer.byteLength} bytes)`);
  if (!LE) throw new ArrayFileError("array files are little-endian; this machine is not");
  const view = new DataView(buffer);
  const size = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (size > buffer.byteLength - 8) throw new ArrayFileError(`${where}: its header says ${size} bytes but the file has ${buffer.byteLength - 8} after it`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, size)));
  } catch (e) {
    throw new ArrayFileError(`${where}: the header is not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!header || typeof header !== "object" || Array.isArray(header)) throw new ArrayFileError(`${where}: the header is not a JSON object`);
  const start = 8 + size, body = buffer.byteLength - start;
  const arrays: Record<string, NdArray> = {};
  let meta: Record<string, unknown> = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") {
      const text = (info as Record<string, unknown> | null)?.latentdeck;
      if (typeof text === "string") {
        try { meta = JSON.parse(text); } catch { throw new ArrayFileError(`${where}: its metadata is not JSON`); }
      }
      continue;
    }
    const entry = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const Type = typeof entry?.dtype === "string" ? CTORS[entry.dtype] : undefined;
    if (!Type) throw new ArrayFileError(`${where}: array '${name}' has dtype ${JSON.stringify(entry?.dtype)}, which the explorer does not read (one of ${Object.keys(CTORS).join(" ")})`);
    const shape = Array.isArray(entry.shape) ? entry.shape.map(Number) : [];
    const offsets = Array.isArray(entry.data_offsets) ? entry.data_offsets.map(Number) : [];
    const count = shape.reduce((a, b) => a * b, 1);
    const [begin, end] = offsets;
    if (!(offsets.length === 2 && shape.every((s) => Number.isInteger(s) && s >= 0) && 0 <= begin && begin <= end && end <= body
      && end - begin === count * Type.BYTES_PER_ELEMENT)) {
      throw new ArrayFileError(`${where}: array '${name}' (${entry.dtype} [${shape}]) does not fit its offsets [${offsets}] in ${body} data bytes`);
    }
    const at = start + begin;
    // a view when aligned (always, from latentdeck's writer); otherwise one copy into an aligned buffer
    const data = at % Type.BYTES_PER_ELEMENT === 0 ? new Type(buffer, at, count)
      : new Type(buffer.slice(at, at + count * Type.BYTES_PER_ELEMENT), 0, count);
    arrays[name] = { dtype: entry.dtype as string, shape, data };
  }
  return { arrays, meta };
}
