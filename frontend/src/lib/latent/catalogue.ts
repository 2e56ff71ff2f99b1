// Which latent-page files a run has, parsed from its artifact listing (the names of the specification).
// Every view on the page is drawn from these files only.
import { nearestEpoch } from "./urlState";

export interface Catalogue {
  /** method -> dims -> epochs with a projection file, ascending */
  projections: Map<string, Map<number, number[]>>;
  /** method -> epochs with a kNN file */
  knn: Map<string, Set<number>>;
  /** every other JSON file (overlay grids among them: the generators' declared patterns pick them out) */
  overlays: Set<string>;
  atlasInputs: boolean;
  /** epochs with a reconstruction atlas */
  atlasRecon: Set<number>;
  /** epochs with a cluster-quality file (clusters/cluster_quality_epoch_<N>.json), ascending */
  clusters: number[];
  /** every file name seen, in arrival order (what plugins' views are told: ViewProps.files) */
  files: string[];
}

const PROJECTION = /^projections\/latent_(\d)d_epoch_(\d+)(?:_(.+))?\.json$/;
const KNN = /^neighbors\/knn_(.+)_epoch_(\d+)\.json$/;
const ATLAS_RECON = /^atlas\/atlas_epoch_(\d+)\.json$/;
const CLUSTERS = /^clusters\/cluster_quality_epoch_(\d+)\.json$/;

const withEpoch = (epochs: number[], epoch: number) => [...epochs, epoch].sort((a, b) => a - b);

export function emptyCatalogue(): Catalogue {
  return { projections: new Map(), knn: new Map(), overlays: new Set(), atlasInputs: false, atlasRecon: new Set(), clusters: [], files: [] };
}

/** Add file names to a catalogue (returns a new one when something was added, else the same object). */
export function addToCatalogue(previous: Catalogue, names: Iterable<string>): Catalogue {
  let next: Catalogue | null = null;
  const edit = () => {
    if (!next) {
      next = {
        projections: new Map([...previous.projections].map(([m, byDims]) => [m, new Map([...byDims].map(([d, e]) => [d, [...e]]))])),
        knn: new Map([...previous.knn].map(([m, e]) => [m, new Set(e)])),
        overlays: new Set(previous.overlays), atlasInputs: previous.atlasInputs, atlasRecon: new Set(previous.atlasRecon),
        clusters: [...previous.clusters], files: previous.files,
      };
    }
    return next;
  };
  const known = new Set(previous.files);
  const added: string[] = [];
  for (const name of names) {
    if (!known.has(name)) { known.add(name); added.push(name); edit(); }
    let m: RegExpExecArray | null;
    if ((m = PROJECTION.exec(name))) {
      const dims = Number(m[1]), epoch = Number(m[2]);
      const method = m[3] ?? (dims === 2 ? "pca" : null);
      if (!method) continue;
      if (previous.projections.get(method)?.get(dims)?.includes(epoch)) continue;
      const c = edit();
      const byDims = c.projections.get(method) ?? new Map<number, number[]>();
      byDims.set(dims, [...(byDims.get(dims) ?? []), epoch].sort((a, b) => a - b));
      c.projections.set(method, byDims);
    } else if ((m = KNN.exec(name))) {
      const epoch = Number(m[2]);
      if (previous.knn.get(m[1])?.has(epoch)) continue;
      const c = edit();
      c.knn.set(m[1], new Set([...(c.knn.get(m[1]) ?? []), epoch]));
    } else if (name === ATLAS_INPUTS) {
      if (!previous.atlasInputs) edit().atlasInputs = true;
    } else if ((m = ATLAS_RECON.exec(name))) {
      if (!previous.atlasRecon.has(Number(m[1]))) edit().atlasRecon.add(Number(m[1]));
    } else if ((m = CLUSTERS.exec(name))) {
      const epoch = Number(m[1]);
      if (!((next as Catalogue | null) ?? previous).clusters.includes(epoch)) { const c = edit(); c.clusters = withEpoch(c.clusters, epoch); }
    } else if (name.endsWith(".json") && /(^|[_/])epoch_\d+/.test(name) && !previous.overlays.has(name)) {
      edit().overlays.add(name);
    }
  }
  if (next && added.length) (next as Catalogue).files = [...previous.files, ...added];
  return next ?? previous;
}

export function catalogueOf(names: Iterable<string>): Catalogue {
  return addToCatalogue(emptyCatalogue(), names);
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
