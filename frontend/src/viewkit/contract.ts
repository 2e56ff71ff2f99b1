// The view contract (SPEC.md "Views"): what the UI hands a plugin's view. A view is the default export of
// an ES module a plugin ships (ViewSpec.module, served at /api/views/<name>.js); it is a React component
// that receives ViewProps and sizes itself (it is mounted in the page, not in a frame).
import type { CameraLink } from "@/components/latent/camera";
import type { OnDemandResult, RunFile } from "@/lib/api";
import type { Phase } from "@/lib/phases";

/** One file of the run as the one listing (GET /api/runs/{id}/files) describes it: its name and the keys the server
 * read from it (``artifact``: the computation whose declared pattern it matches; ``epoch``; ``latest``: a *_latest
 * mirror; ``method``/``dims`` of a projection; ``fields``: the pattern's other placeholders). Views filter rows by
 * these keys (files.ts: filesByEpoch, fileOf) and never parse names. */
export type FileRow = Pick<RunFile, "name" | "artifact" | "kind" | "epoch" | "latest" | "method" | "dims" | "fields" | "role">;

export type Mount = "run-panel" | "explorer-side" | "explorer-layer" | "page";

/** One row of GET /api/components → views. */
export interface ViewRow {
  name: string;
  provider: string;
  mount: Mount;
  title: string;
  computations: string[];
  order: number;
  url: string;
}

export interface ViewRun {
  id: string;
  status: string;
  model: string | null;
  dataset: string | null;
  config: Record<string, unknown>;
  /** the model's phases (pretraining spans ...), [] for a model without any */
  phases: Phase[];
  /** the dataset's class names (digits "0"…"9" when it names none) */
  classes: string[];
}

/** What an explorer mount may read from and ask of the latent explorer. */
export interface ExplorerLink {
  /** the map shown: method, dims and its projection file (null before the run has one): the file the map read (its
   * array file when the run has one, else its JSON), so a view's useRunJson of it shares the page's cached copy */
  method: string | null;
  dims: number;
  projection: string | null;
  /** focused points ("heldout:12", "train:3") and the hovered one */
  focus: readonly string[];
  hover: string | null;
  /** the filter box's text (e.g. "comp:3", "label:7") */
  filter: string;
  setFocus(keys: string[]): void;
  setHover(key: string | null): void;
  setFilter(text: string): void;
  /** the map's camera (subscribe to follow it; publish to move it) */
  camera: CameraLink;
  /** a message to the page's other views: subscribe(topic, fn) returns the unsubscribe function */
  publish(topic: string, detail: unknown): void;
  subscribe(topic: string, fn: (detail: unknown) => void): () => void;
  /** explorer-layer mounts: draw a path on the map (null removes this view's path) */
  drawPath?(path: MapPath | null): void;
  /** explorer-layer mounts: the next click on the map calls ``fn`` with that point's key (null: empty space)
   * instead of focusing it; ``pickPoint(null)`` cancels */
  pickPoint?(fn: ((key: string | null) => void) | null): void;
}

/** A path a view draws on the map: ``coords`` in the projection file's own units (the file's ``coords``
 * space), drawn only while the map shows ``method`` in 2-D at ``epoch``; layers ``<id>-path`` and ``<id>-steps``. */
export interface MapPath {
  id: string;
  method: string;
  epoch: number;
  coords: number[][];
  /** an estimated placement (drawn amber) rather than an exact one (black) */
  estimate: boolean;
}

export type Compute = (name: string, request: object) => Promise<OnDemandResult>;

export interface ViewProps {
  /** the view's own row (name, title, mount, computations) */
  view: ViewRow;
  run: ViewRun;
  /** the epoch the page shows (the explorer's epoch, or the run's latest); null before the first epoch */
  epoch: number | null;
  /** every file of the run as rows of the one listing (FileRow), kept live */
  files: readonly FileRow[];
  /** an on-demand computation of the run: persisted before the answer, repeats read from disk */
  compute: Compute;
  /** for explorer mounts only */
  explorer?: ExplorerLink;
}
