// The array-file reader against bytes the Python host wrote (testdata/, by scripts/array-fixture.py with
// latentdeck's own ArtifactWriter): zero-copy views, the header's fields, and one in-memory shape for the new
// format and old inline JSON.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { ArrayFileError, parseArrayFile } from "./arrays";
import { arraysSibling, normalise, readArtifact, row } from "./artifacts";
import type { Matrix } from "./artifacts";
import type { ProjectionDoc } from "./latent/points";

const dir = new URL("./testdata/", import.meta.url);
const bytes = (name: string) => {
  const b = readFileSync(new URL(name, dir));
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
};
const FILE = "latent_2d_epoch_3.safetensors";

test("an array file from the Python writer reads as typed-array views on its bytes", () => {
  const buffer = bytes(FILE);
  const { arrays, meta } = parseArrayFile(buffer);
  assert.deepEqual(Object.keys(arrays).sort(), ["coords", "d_k", "indices", "labels", "neighbors", "split", "trained"]);
  assert.ok(arrays.coords.data instanceof Float32Array && arrays.indices.data instanceof Int32Array);
  assert.ok(arrays.neighbors.data instanceof Uint16Array && arrays.labels.data instanceof Uint8Array && arrays.trained.data instanceof Uint8Array);
  for (const a of Object.values(arrays)) assert.equal(a.data.buffer, buffer, "a view on the fetched buffer, not a copy");
  assert.deepEqual(arrays.coords.shape, [3, 2]);
  assert.deepEqual([...arrays.coords.data], [-1.5, 0, 0.25, 4, 2.25, 1]);
  assert.deepEqual([...arrays.indices.data], [7, 70000, 12]);
  assert.deepEqual([...arrays.labels.data], [3, 9, 0]);
  assert.deepEqual([...arrays.trained.data], [1, 1, 0]);
  assert.deepEqual([...arrays.neighbors.data], [1, 2, 0, 2, 1, 0]);
  assert.deepEqual([...arrays.d_k.data], [0.5, 0.125, 2]);
  assert.equal(meta.epoch, 3);
  assert.deepEqual(meta.bounds, [[-1.5, 2.25], [0, 4]]);
  assert.deepEqual(meta.split_values, ["heldout", "train"]);
});

test("a malformed array file is refused with what is wrong", () => {
  assert.throws(() => parseArrayFile(new ArrayBuffer(4)), ArrayFileError);
  const cut = bytes(FILE).slice(0, 200);
  assert.throws(() => parseArrayFile(cut, "x.safetensors"), /x\.safetensors: its header says/);
  const header = new TextEncoder().encode(JSON.stringify({ a: { dtype: "F32", shape: [4], data_offsets: [0, 8] } }));
  const bad = new Uint8Array(8 + header.length + 8);
  new DataView(bad.buffer).setUint32(0, header.length, true);
  bad.set(header, 8);
  assert.throws(() => parseArrayFile(bad.buffer), /array 'a' \(F32 \[4\]\) does not fit its offsets/);
  const f16 = new TextEncoder().encode(JSON.stringify({ a: { dtype: "F16", shape: [1], data_offsets: [0, 2] } }));
  const half = new Uint8Array(8 + f16.length + 2);
  new DataView(half.buffer).setUint32(0, f16.length, true);
  half.set(f16, 8);
  assert.throws(() => parseArrayFile(half.buffer), /dtype "F16", which the explorer does not read/);
});

test("an unaligned array (another writer) is copied once, never misread", () => {
  const header = new TextEncoder().encode(JSON.stringify({ b: { dtype: "U8", shape: [1], data_offsets: [0, 1] }, a: { dtype: "F32", shape: [1], data_offsets: [1, 5] } }));
  const pad = (8 - ((8 + header.length) % 8)) % 8;
  const file = new Uint8Array(8 + header.length + pad + 5);
  new DataView(file.buffer).setUint32(0, header.length + pad, true);
  file.set(header, 8);
  file.fill(32, 8 + header.length, 8 + header.length + pad);
  const start = 8 + header.length + pad;
  file[start] = 9;
  new DataView(file.buffer).setFloat32(start + 1, 1.25, true);
  const { arrays } = parseArrayFile(file.buffer);
  assert.deepEqual([...arrays.a.data, ...arrays.b.data], [1.25, 9]);
});

/** a fetch that answers from testdata/ (and counts requests) */
function serve(files: Record<string, ArrayBuffer>) {
  const asked: string[] = [];
  const original = globalThis.fetch;
  globalThis.fetch = (async (url: string) => {
    asked.push(url);
    const body = files[url];
    return body ? new Response(body) : new Response("missing", { status: 404 });
  }) as typeof fetch;
  return { asked, restore: () => { globalThis.fetch = original; } };
}

test("the JSON and its array file, or the array file alone (one fetch), read as the same document", async () => {
  const server = serve({ "projections/latent_2d_epoch_3.json": bytes("latent_2d_epoch_3.json"), [`projections/${FILE}`]: bytes(FILE) });
  try {
    const both = await readArtifact<ProjectionDoc>((n) => n, "projections/latent_2d_epoch_3.json");
    assert.deepEqual(server.asked, ["projections/latent_2d_epoch_3.json", `projections/${FILE}`]);
    const one = await readArtifact<ProjectionDoc>((n) => n, arraysSibling("projections/latent_2d_epoch_3.json"));
    assert.equal(server.asked.length, 3, "the array file alone: one fetch");
    for (const doc of [both, one]) {
      assert.equal(doc.epoch, 3);
      assert.equal(doc.method, "pca");
      assert.deepEqual(doc.bounds, [[-1.5, 2.25], [0, 4]]);
      assert.deepEqual([doc.coords.rows, doc.coords.cols], [3, 2]);
      assert.deepEqual([...row(doc.coords, 1)], [0.25, 4]);
      assert.deepEqual(doc.split, ["heldout", "train", "train"], "split codes read as names");
      assert.deepEqual([...doc.trained!], [1, 1, 0]);
      assert.deepEqual([...doc.indices], [7, 70000, 12]);
    }
    await assert.rejects(readArtifact((n) => n, "projections/none.json"), /none\.json: the server answered 404/);
  } finally {
    server.restore();
  }
});

test("an old inline projection reads into the same shape as the array file", async () => {
  const inline = {
    epoch: 3, method: "pca", dims: 2, n: 3, latent: "z", latent_dim: 4, bounds: [[-1.5, 2.25], [0, 4]],
    coords: [[-1.5, 0], [0.25, 4], [2.25, 1]], indices: [7, 70000, 12], labels: [3, 9, 0],
    split: ["heldout", "train", "train"], trained: [true, true, false],
  };
  const server = serve({ [`projections/${FILE}`]: bytes(FILE), "old.json": new TextEncoder().encode(JSON.stringify(inline)).buffer as ArrayBuffer });
  try {
    const packed = await readArtifact<ProjectionDoc>((n) => n, `projections/${FILE}`);
    const old = await readArtifact<ProjectionDoc>((n) => n, "old.json");
    const plain = (d: ProjectionDoc) => ({ coords: [...d.coords.data], rows: d.coords.rows, cols: d.coords.cols, indices: [...d.indices],
      labels: [...d.labels], split: d.split, trained: [...d.trained!], bounds: d.bounds, epoch: d.epoch });
    assert.deepEqual(plain(old), plain(packed));
    assert.ok(old.coords.data instanceof Float32Array);
  } finally {
    server.restore();
  }
  const other = normalise({ values: [1, 2], labels: ["a", "b"] });
  assert.deepEqual(other.values, [1, 2], "a file that is not one of the explorer's keeps its lists");
  const grid = normalise({ grid: { nx: 2, ny: 1 }, values: [0.5, null] });
  assert.ok(grid.values instanceof Float32Array && Number.isNaN((grid.values as Float32Array)[1]), "an overlay grid: flat, null as NaN");
  const m = normalise({ coords: [[1, 2]], method: "umap" }).coords as Matrix;
  assert.deepEqual([m.rows, m.cols, ...m.data], [1, 2, 1, 2]);
});
