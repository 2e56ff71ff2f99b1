// Which latent-page files a run has, from its file listing (GET /api/runs/{id}/files): every row carries
// the keys the server parsed from the declared patterns (artifact, kind, epoch, latest, method, dims, fields)
// and the explorer role its computation declares it provides (ComputationSpec.provides: neighbours, overlay,
// input-thumbnails, reconstruction-thumbnails, cluster-scores), so nothing here reads a file name or names a plugin:
// whichever installed package provides a role is read. Every view on the page is drawn from these files only.
import type { ArtifactType, RunFile } from "../api";
import type { OverlayEntry } from "../overlays";
import { ARRAY_EXTENSION, arraysSibling } from "../artifacts";
import { nearestEpoch } from "./urlState";

/** The keys of one listed file that the catalogue reads (a RunFile row). */
export type FileKeys = Pick<RunFile, "name" | "artifact" | "kind" | "epoch" | "latest" | "method" | "dims" | "fields" | "role">;
/** The keys of one installed computation that the catalogue reads (the listing's artifact types). */
export type ProviderKeys = Pick<ArtifactType, "name" | "roles">;

export interface Catalogue {
  /** method -> dims -> epochs with a projection file, ascending */
  projections: Map<string, Map<number, number[]>>;
  /** method -> epoch -> its neighbour-graph file (role "neighbours") */
  neighbours: Map<string, Map<number, string>>;
  /** per-epoch overlay grids (role "overlay": a {method} and one other text field, its kind) */
  overlays: Map<string, OverlayEntry>;
  /** the run's input-thumbnail sheet index (role "input-thumbnails"), or null */
  inputThumbnails: string | null;
  /** epoch -> its reconstruction-thumbnail sheet index (role "reconstruction-thumbnails") */
  reconstructionThumbnails: Map<number, string>;
  /** epoch -> its cluster-scores file (role "cluster-scores") */
  clusterScores: Map<number, string>;
  /** every file seen, once, in arrival order (the listing's rows: what plugins' views are told, ViewProps.files) */
  files: FileKeys[];
  /** role -> the installed computation that provides it (the first one listed for overlays), known before it has files */
  providers: Map<string, string>;
  /** the array files listed (issue 24 format: <stem>.safetensors beside <stem>.json, holding its fields too) */
  arrays: Set<string>;
}

const withEpoch = (epochs: number[], epoch: number) => [...epochs, epoch].sort((a, b) => a - b);

export function emptyCatalogue(): Catalogue {
  return { projections: new Map(), neighbours: new Map(), overlays: new Map(), inputThumbnails: null, reconstructionThumbnails: new Map(), clusterScores: new Map(), files: [], providers: new Map(), arrays: new Set() };
}

/** The overlay a listed file is, or null: a per-epoch JSON file of role "overlay" whose pattern names a
 * {method} and exactly one other text field (its kind: a family of grids, a metric ...). */
export function overlayOf(row: FileKeys): OverlayEntry | null {
  if (row.role !== "overlay" || !row.artifact || row.epoch === null || !row.method || !row.name.endsWith(".json")) return null;
  const text = Object.values(row.fields ?? {}).filter((v): v is string => typeof v === "string");
  if (text.length !== 1 || Object.keys(row.fields ?? {}).length !== 1) return null;
  return { name: row.name, generator: row.artifact, kind: text[0], method: row.method, epoch: row.epoch };
}

/** Add listed files, and the installed computations' roles, to a catalogue (returns a new one when something was
 * added, else the same object). */
export function addToCatalogue(previous: Catalogue, rows: Iterable<FileKeys>, types: Iterable<ProviderKeys> = []): Catalogue {
  let next: Catalogue | null = null;
  const edit = () => {
    if (!next) {
      next = {
        projections: new Map([...previous.projections].map(([m, byDims]) => [m, new Map([...byDims].map(([d, e]) => [d, [...e]]))])),
        neighbours: new Map([...previous.neighbours].map(([m, e]) => [m, new Map(e)])),
        overlays: new Map(previous.overlays), inputThumbnails: previous.inputThumbnails,
        reconstructionThumbnails: new Map(previous.reconstructionThumbnails), clusterScores: new Map(previous.clusterScores), files: previous.files,
        providers: new Map(previous.providers), arrays: previous.arrays,
      };
    }
    return next;
  };
  const current = () => (next as Catalogue | null) ?? previous;
  for (const type of types) {
    for (const role of type.roles) {
      if (!current().providers.has(role)) edit().providers.set(role, type.name);
    }
  }
  const known = new Set(previous.files.map((r) => r.name));
  const added: FileKeys[] = [];
  for (const row of rows) {
    if (!known.has(row.name)) { known.add(row.name); added.push(row); edit(); }
    const json = row.name.endsWith(".json");
    const epoch = row.epoch;
    if (row.name.endsWith(ARRAY_EXTENSION) && !current().arrays.has(row.name)) {
      const c = edit();
      if (c.arrays === previous.arrays) c.arrays = new Set(previous.arrays);
      c.arrays.add(row.name);
    }
    if (!json) continue;
    if (row.kind === "projections") {
      if (epoch === null || !row.method || !row.dims) continue;
      const { method, dims } = row;
      if (current().projections.get(method)?.get(dims)?.includes(epoch)) continue;
      const c = edit();
      const byDims = c.projections.get(method) ?? new Map<number, number[]>();
      byDims.set(dims, withEpoch(byDims.get(dims) ?? [], epoch));
      c.projections.set(method, byDims);
      continue;
    }
    const overlay = overlayOf(row);
    if (overlay) {
      if (!current().overlays.has(row.name)) edit().overlays.set(row.name, overlay);
      continue;
    }
    if (row.latest || !row.role) continue;
    if (row.role === "input-thumbnails") {
      if (current().inputThumbnails !== row.name) edit().inputThumbnails = row.name;
      continue;
    }
    if (epoch === null) continue;
    if (row.role === "neighbours" && row.method) {
      if (current().neighbours.get(row.method)?.get(epoch) === row.name) continue;
      const c = edit();
      c.neighbours.set(row.method, new Map(c.neighbours.get(row.method) ?? []).set(epoch, row.name));
    } else if (row.role === "reconstruction-thumbnails") {
      if (current().reconstructionThumbnails.get(epoch) !== row.name) edit().reconstructionThumbnails.set(epoch, row.name);
    } else if (row.role === "cluster-scores") {
      if (current().clusterScores.get(epoch) !== row.name) edit().clusterScores.set(epoch, row.name);
    }
  }
  if (next && added.length) (next as Catalogue).files = [...previous.files, ...added];
  return next ?? previous;
}

export function catalogueOf(rows: Iterable<FileKeys>): Catalogue {
  return addToCatalogue(emptyCatalogue(), rows);
}

/** The neighbour-graph file of one map and epoch, or null when the run has none. */
export const neighboursFile = (c: Catalogue, method: string, epoch: number | null) =>
  epoch === null ? null : c.neighbours.get(method)?.get(epoch) ?? null;

/** The installed computation that writes a role's files (what to backfill when some are missing), or null. */
export const providerOf = (c: Catalogue, role: string) => c.providers.get(role) ?? null;

/** The epochs with a cluster-scores file, ascending. */
export const scoreEpochs = (c: Catalogue) => [...c.clusterScores.keys()].sort((a, b) => a - b);

/** Methods in display order: PCA first (exact, linear), then the others by name. */
export function methodsOf(c: Catalogue): string[] {
  return [...c.projections.keys()].sort((a, b) => (a === "pca" ? -1 : b === "pca" ? 1 : a.localeCompare(b)));
}

export function projectionName(method: string, dims: number, epoch: number): string {
  return method === "pca" && dims === 2
    ? `projections/latent_2d_epoch_${epoch}.json`
    : `projections/latent_${dims}d_epoch_${epoch}_${method}.json`;
}


/** The file to read for a projection: its array file when the listing shows one (one fetch: its metadata holds the
 * JSON's fields), else the JSON file (an old run's inline JSON). */
export function projectionFile(c: Catalogue, method: string, dims: number, epoch: number): string {
  const json = projectionName(method, dims, epoch);
  const packed = arraysSibling(json);
  return c.arrays.has(packed) ? packed : json;
}

export interface ResolvedView {
  methods: string[];
  method: string;
  dims: number;
  dimsAvailable: number[];
  epochs: number[];
  epoch: number | null; // the epoch shown: the chosen one, or the newest when following
}

/** The view that can be shown: the chosen method / dimension when the run has them (else the first
 * available), and the chosen epoch when it exists for them (else the newest). */
export function resolveView(c: Catalogue, want: { method: string; dims: number; epoch: number | null }): ResolvedView {
  const methods = methodsOf(c);
  const method = c.projections.has(want.method) ? want.method : methods[0] ?? "";
  const byDims = c.projections.get(method);
  const dimsAvailable = byDims ? [...byDims.keys()].sort((a, b) => a - b) : [];
  const dims = dimsAvailable.includes(want.dims) ? want.dims : dimsAvailable[0] ?? 2;
  const epochs = [...(byDims?.get(dims) ?? [])];
  // an epoch this map lacks (another dimension's, or an old address) opens the nearest one it has
  const epoch = want.epoch === null ? epochs[epochs.length - 1] ?? null : nearestEpoch(epochs, want.epoch);
  return { methods, method, dims, dimsAvailable, epochs, epoch };
}
