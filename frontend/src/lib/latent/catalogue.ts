// Which latent-page files a run has, from its file listing (GET /api/runs/{id}/files): every row carries
// the keys the server parsed from the declared patterns (artifact, kind, epoch, latest, method, dims, fields),
// so nothing here reads a file name. Every view on the page is drawn from these files only.
import type { RunFile } from "../api";
import type { OverlayEntry } from "../overlays";
import { nearestEpoch } from "./urlState";

/** The keys of one listed file that the catalogue reads (a RunFile row). */
export type FileKeys = Pick<RunFile, "name" | "artifact" | "kind" | "epoch" | "latest" | "method" | "dims" | "fields">;

export interface Catalogue {
  /** method -> dims -> epochs with a projection file, ascending */
  projections: Map<string, Map<number, number[]>>;
  /** method -> epochs with a kNN file */
  knn: Map<string, Set<number>>;
  /** per-epoch overlay grids (files of the artifact types the listing marks `overlay`, with a method and one kind) */
  overlays: Map<string, OverlayEntry>;
  atlasInputs: boolean;
  /** epochs with a reconstruction atlas */
  atlasRecon: Set<number>;
  /** epochs with a cluster-quality file (clusters/cluster_quality_epoch_<N>.json), ascending */
  clusters: number[];
  /** every file seen, once, in arrival order (the listing's rows: what plugins' views are told, ViewProps.files) */
  files: FileKeys[];
}

const withEpoch = (epochs: number[], epoch: number) => [...epochs, epoch].sort((a, b) => a - b);

export function emptyCatalogue(): Catalogue {
  return { projections: new Map(), knn: new Map(), overlays: new Map(), atlasInputs: false, atlasRecon: new Set(), clusters: [], files: [] };
}

/** The overlay a listed file is, or null: a per-epoch JSON file of an overlay artifact type whose pattern
 * names a {method} and exactly one other text field (its kind: density's family, distortion's metric). */
export function overlayOf(row: FileKeys, overlayTypes: ReadonlySet<string>): OverlayEntry | null {
  if (!row.artifact || !overlayTypes.has(row.artifact) || row.epoch === null || !row.method || !row.name.endsWith(".json")) return null;
  const text = Object.values(row.fields ?? {}).filter((v): v is string => typeof v === "string");
  if (text.length !== 1 || Object.keys(row.fields ?? {}).length !== 1) return null;
  return { name: row.name, generator: row.artifact, kind: text[0], method: row.method, epoch: row.epoch };
}

/** Add listed files to a catalogue (returns a new one when something was added, else the same object).
 * ``overlayTypes``: the artifact types the listing marks `overlay`. */
export function addToCatalogue(previous: Catalogue, rows: Iterable<FileKeys>, overlayTypes: ReadonlySet<string> = new Set()): Catalogue {
  let next: Catalogue | null = null;
  const edit = () => {
    if (!next) {
      next = {
        projections: new Map([...previous.projections].map(([m, byDims]) => [m, new Map([...byDims].map(([d, e]) => [d, [...e]]))])),
        knn: new Map([...previous.knn].map(([m, e]) => [m, new Set(e)])),
        overlays: new Map(previous.overlays), atlasInputs: previous.atlasInputs, atlasRecon: new Set(previous.atlasRecon),
        clusters: [...previous.clusters], files: previous.files,
      };
    }
    return next;
  };
  const current = () => (next as Catalogue | null) ?? previous;
  const known = new Set(previous.files.map((r) => r.name));
  const added: FileKeys[] = [];
  for (const row of rows) {
    if (!known.has(row.name)) { known.add(row.name); added.push(row); edit(); }
    const json = row.name.endsWith(".json");
    const epoch = row.epoch;
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
    const overlay = overlayOf(row, overlayTypes);
    if (overlay) {
      if (!current().overlays.has(row.name)) edit().overlays.set(row.name, overlay);
      continue;
    }
    if (row.latest) continue;
    if (row.artifact === "knn" && row.method && epoch !== null) {
      if (current().knn.get(row.method)?.has(epoch)) continue;
      const c = edit();
      c.knn.set(row.method, new Set([...(c.knn.get(row.method) ?? []), epoch]));
    } else if (row.artifact === "atlas") {
      if (epoch === null) { if (!current().atlasInputs) edit().atlasInputs = true; }
      else if (!current().atlasRecon.has(epoch)) edit().atlasRecon.add(epoch);
    } else if (row.artifact === "cluster_quality" && epoch !== null) {
      if (!current().clusters.includes(epoch)) { const c = edit(); c.clusters = withEpoch(c.clusters, epoch); }
    }
  }
  if (next && added.length) (next as Catalogue).files = [...previous.files, ...added];
  return next ?? previous;
}

export function catalogueOf(rows: Iterable<FileKeys>, overlayTypes: ReadonlySet<string> = new Set()): Catalogue {
  return addToCatalogue(emptyCatalogue(), rows, overlayTypes);
}

/** Methods in display order: PCA first (exact, linear), then the others by name. */
export function methodsOf(c: Catalogue): string[] {
  return [...c.projections.keys()].sort((a, b) => (a === "pca" ? -1 : b === "pca" ? 1 : a.localeCompare(b)));
}

export function projectionName(method: string, dims: number, epoch: number): string {
  return method === "pca" && dims === 2
    ? `projections/latent_2d_epoch_${epoch}.json`
    : `projections/latent_${dims}d_epoch_${epoch}_${method}.json`;
}

export const knnName = (method: string, epoch: number) => `neighbors/knn_${method}_epoch_${epoch}.json`;
export const ATLAS_INPUTS = "atlas/atlas_inputs.json";
export const atlasReconName = (epoch: number) => `atlas/atlas_epoch_${epoch}.json`;
export const clusterQualityName = (epoch: number) => `clusters/cluster_quality_epoch_${epoch}.json`;

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
