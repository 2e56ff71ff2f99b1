// The live/replay view's state, folded from run events (SSE) and the artifact listing. Pure
// functions: the page batches events and applies them here at most ~10 times a second.
import type { RunFile, RunStatus } from "./api";
import { phasesOf } from "./phases";
import type { Phase } from "./phases";

export interface RunEvent {
  seq: number;
  type: string;
  ts: number;
  run_id: string;
  data: Record<string, unknown>;
}

export type Metrics = Record<string, unknown> & { epoch: number };

export interface ProgressPoint {
  x: number; // fractional epoch: epoch - 1 + batch / batches
  loss: number;
}

/** The latest `run.stage` event: what the run does between training batches (artifacts, a model step). */
export interface Stage {
  epoch: number;
  stage: string; // "artifacts" | "before_epoch" | "epoch_done" | "waiting"
  step?: string;
  text?: string;
  done?: number;
  total?: number;
  expectedS?: number; // waiting: the executor's estimate
  maxWaitS?: number; // waiting: the server starts the run after this long at the latest
  queuePosition?: number; // waiting in the run queue: 1 = next to start
  queueLength?: number; // waiting in the run queue: how many wait
  maxConcurrentRuns?: number; // waiting in the run queue: how many runs train at once
  ts: number;
  since: number; // when this stage began (a run's waiting spans several events as it moves up the queue)
}

/** A model's warning from `train.metrics.warnings` (e.g. the GM-VAE's components collapsing). */
export interface RunWarning {
  code: string;
  severity: "warning" | "error";
  title: string;
  detail: string;
  advice: string[];
}

export interface RunState {
  lastSeq: number;
  eventsSeen: number; // events applied (after dropping duplicates)
  duplicatesDropped: number;
  status: RunStatus | null;
  epochs: number | null; // total planned
  metrics: Metrics[]; // one per epoch, ordered by epoch
  progress: Record<string, unknown> | null; // the latest train.progress data
  progressPoints: ProgressPoint[]; // running train loss within epochs (decimated, bounded)
  files: RunFile[]; // the run's files as rows of the listing, each once: what the run page's views are told
  filesAnnounced: number; // artifact.created events seen (the page asks the listing again for their rows)
  stage: Stage | null; // the latest run.stage while it is current (null once training moves on)
  stageEvents: boolean; // the worker announces stages (run.started says so): epochs count as done only after their artifacts
  epochsDone: number; // epochs whose artifacts are written too (run.stage epoch_done)
  lastEpochTiming: { train: number; artifacts: number } | null;
  ended: { type: string; data: Record<string, unknown> } | null;
  started: Record<string, unknown> | null;
  /** artifact.failed events: ``overBudget`` is the budget in seconds of one given up for running past it (reason "timeout") */
  failures: { generator: string; epoch: number | null; error: string; overBudget: number | null }[];
  modelSteps: { epoch: number; text: string }[]; // model.update events (e.g. the GM-VAE's prior init), in order
  phases: Phase[]; // the model's phases (model.phases event), drawn on every time axis
  recent: { seq: number; type: string; ts: number; text: string }[];
}

export const MAX_PROGRESS_POINTS = 2000;
const MAX_RECENT = 30;
const MAX_FAILURES = 20;
const MAX_MODEL_STEPS = 20;

export function initialRunState(): RunState {
  return {
    lastSeq: 0, eventsSeen: 0, duplicatesDropped: 0, status: null, epochs: null, metrics: [], progress: null,
    progressPoints: [], files: [], filesAnnounced: 0, stage: null, stageEvents: false, epochsDone: 0, lastEpochTiming: null,
    ended: null, started: null, failures: [], modelSteps: [], phases: [], recent: [],
  };
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

function addFiles(list: RunFile[], rows: RunFile[]): RunFile[] {
  const known = new Set(list.map((r) => r.name));
  const added = rows.filter((r) => r.name && !known.has(r.name) && (known.add(r.name), true));
  return added.length ? [...list, ...added] : list;
}

function describe(e: RunEvent): string {
  const d = e.data;
  switch (e.type) {
    case "train.metrics":
      return `epoch ${d.epoch}/${d.epochs}: loss ${fmt(d.loss)}`;
    case "artifact.created":
      return String(d.name ?? "");
    case "artifact.failed":
      return `${d.generator} failed: ${d.error}`;
    case "projection.progress":
      return `${d.method} ${d.dims}-D ${d.stage}${d.stage === "done" ? ` in ${fmt(d.compute_ms)} ms` : ""}`;
    case "checkpoint.saved":
      return String(d.name ?? "");
    case "run.stage":
      return d.stage === "epoch_done" ? `epoch ${d.epoch} done (training ${fmt(d.train_seconds, 3)} s, artifacts ${fmt(d.artifact_seconds, 3)} s)` : String(d.text ?? d.stage ?? "");
    case "run.failed":
      return `${d.reason}: ${d.error ?? ""}`;
    case "model.update":
      return String(d.text ?? d.action ?? "");
    case "model.phases":
      return phasesOf(d.phases).map((p) => `${p.label} ${p.kind === "moment" ? `before ${p.start}` : `${p.start}–${p.end}`}`).join(", ");
    default:
      return "";
  }
}

export function fmt(v: unknown, digits = 4): string {
  const n = num(v);
  if (n === null) return "–";
  if (n !== 0 && (Math.abs(n) >= 1e5 || Math.abs(n) < 1e-3)) return n.toExponential(2);
  return Number(n.toPrecision(digits)).toString();
}

/** Apply a batch of events in order; events at or below the cursor are dropped (no duplicates). */
export function applyEvents(state: RunState, events: RunEvent[]): RunState {
  if (events.length === 0) return state;
  const s: RunState = { ...state };
  let metrics = s.metrics;
  let points = s.progressPoints;
  let recent = s.recent;
  for (const e of events) {
    if (e.seq <= s.lastSeq) {
      s.duplicatesDropped += 1;
      continue;
    }
    s.lastSeq = e.seq;
    s.eventsSeen += 1;
    const d = e.data ?? {};
    switch (e.type) {
      case "run.created": {
        const cfg = d.config as { epochs?: number } | undefined;
        if (cfg?.epochs) s.epochs = cfg.epochs;
        s.status = s.status ?? "created";
        break;
      }
      case "run.started":
        s.started = d;
        s.status = "running";
        s.stageEvents = d.stage_events === true;
        if (s.stage?.stage === "waiting") s.stage = null;
        if (num(d.epochs)) s.epochs = d.epochs as number;
        break;
      case "train.progress": {
        s.progress = d;
        if (s.stage && num(d.epoch) !== null && (d.epoch as number) > s.stage.epoch) s.stage = null;
        if (s.stage?.stage === "before_epoch" && num(d.epoch) === s.stage.epoch) s.stage = null;
        const epoch = num(d.epoch), batch = num(d.batch), batches = num(d.batches), loss = num(d.loss);
        if (epoch !== null && batch !== null && batches && loss !== null) {
          points = points === s.progressPoints ? [...points] : points;
          points.push({ x: epoch - 1 + batch / batches, loss });
          if (points.length > MAX_PROGRESS_POINTS) points = points.filter((_, i) => i % 2 === 0);
        }
        if (num(d.epochs)) s.epochs = d.epochs as number;
        break;
      }
      case "train.metrics": {
        const epoch = num(d.epoch);
        if (epoch === null) break;
        metrics = metrics.filter((m) => m.epoch !== epoch);
        metrics.push({ ...d, epoch } as Metrics);
        metrics.sort((a, b) => a.epoch - b.epoch);
        if (num(d.epochs)) s.epochs = d.epochs as number;
        break;
      }
      case "artifact.created": {
        if (typeof d.name === "string") s.filesAnnounced += 1;
        break;
      }
      case "run.stage": {
        const epoch = num(d.epoch) ?? 0;
        if (d.stage === "waiting" && s.started) {
          // a note written by the server after the worker already started (an executor placed it at once)
        } else if (d.stage === "epoch_done") {
          s.epochsDone = Math.max(s.epochsDone, epoch);
          s.stage = null;
          const t = num(d.train_seconds), a = num(d.artifact_seconds);
          if (t !== null && a !== null) s.lastEpochTiming = { train: t, artifacts: a };
        } else {
          s.stage = { epoch, stage: String(d.stage ?? ""), step: d.step as string | undefined, text: d.text as string | undefined,
            done: num(d.done) ?? undefined, total: num(d.total) ?? undefined, expectedS: num(d.expected_s) ?? undefined,
            maxWaitS: num(d.max_wait_s) ?? undefined, queuePosition: num(d.queue_position) ?? undefined,
            queueLength: num(d.queue_length) ?? undefined, maxConcurrentRuns: num(d.max_concurrent_runs) ?? undefined,
            ts: e.ts, since: s.stage && s.stage.stage === d.stage && d.stage === "waiting" ? s.stage.since : e.ts };
        }
        break;
      }
      case "model.update":
        s.modelSteps = [...s.modelSteps, { epoch: num(d.epoch) ?? 0, text: String(d.text ?? d.action ?? "model step") }].slice(-MAX_MODEL_STEPS);
        break;
      case "model.phases":
        s.phases = phasesOf(d.phases);
        break;
      case "artifact.failed":
        s.failures = [...s.failures, { generator: String(d.generator ?? "?"), epoch: num(d.epoch), error: String(d.error ?? ""),
          overBudget: d.reason === "timeout" ? num(d.budget_s) ?? 0 : null }].slice(-MAX_FAILURES);
        break;
      case "run.completed":
        s.status = "completed";
        s.ended = { type: e.type, data: d };
        s.stage = null;
        break;
      case "run.cancelled":
        s.status = "cancelled";
        s.ended = { type: e.type, data: d };
        s.stage = null;
        break;
      case "run.failed":
        s.status = "failed";
        s.ended = { type: e.type, data: d };
        s.stage = null;
        break;
    }
    if (e.type !== "train.progress") {
      recent = [...recent, { seq: e.seq, type: e.type, ts: e.ts, text: describe(e) }].slice(-MAX_RECENT);
    }
  }
  s.metrics = metrics;
  s.progressPoints = points;
  s.recent = recent;
  return s;
}

/** Merge the artifact listing (a finished run, or files a backfill added) into the state. */
export function applyArtifacts(state: RunState, artifacts: RunFile[]): RunState {
  const files = addFiles(state.files, artifacts);
  return files === state.files ? state : { ...state, files };
}

/** "queued: position k of n" for a run waiting in the run queue. */
export function queueText(st: { queuePosition?: number | null; queueLength?: number | null }): string {
  return `queued: position ${st.queuePosition} of ${st.queueLength ?? "?"}`;
}

/** Where a run is: epochs fully done (training and artifacts), the bar's fraction, and what it is doing. */
export function progressOf(state: RunState): { done: number; frac: number; detail: string } {
  const trained = state.metrics.length ? state.metrics[state.metrics.length - 1].epoch : 0;
  const endedDone = state.ended ? num(state.ended.data.epochs_completed) : null;
  const done = endedDone ?? (state.stageEvents ? state.epochsDone : trained);
  const t = state.lastEpochTiming;
  const share = t && t.train + t.artifacts > 0 ? t.train / (t.train + t.artifacts) : 0.8; // training's share of an epoch
  const st = state.stage;
  const p = state.progress;
  if (st && st.stage === "waiting") {
    return { done, frac: done, detail: st.queuePosition ? queueText(st) : typeof st.expectedS === "number" ? "waiting for the lab's warm-up" : "waiting to start" };
  }
  if (st && st.epoch > done && st.stage === "artifacts") {
    const total = Math.max(st.total ?? 1, 1), step = Math.min(st.done ?? 0, total);
    return { done, frac: st.epoch - 1 + share + ((1 - share) * step) / total,
      detail: `epoch ${st.epoch}: ${st.text ?? st.step ?? "artifacts"} (step ${step + 1} of ${total})` };
  }
  if (st && st.epoch > done && st.stage === "before_epoch") {
    return { done, frac: st.epoch - 1, detail: `epoch ${st.epoch}: ${st.text ?? "preparing"}` };
  }
  if (p && typeof p.epoch === "number" && p.epoch > trained && typeof p.batch === "number" && typeof p.batches === "number" && p.batches > 0) {
    let detail = `epoch ${p.epoch}: batch ${p.batch}/${p.batches}`;
    if (typeof p.examples_per_s === "number") detail += ` · ${Math.round(p.examples_per_s)} examples/s`;
    return { done, frac: p.epoch - 1 + (state.stageEvents ? share : 1) * (p.batch / p.batches), detail };
  }
  if (state.stageEvents && !state.ended && trained > done) {
    return { done, frac: trained - 1 + share, detail: `epoch ${trained}: trained; writing its checkpoint and artifacts` };
  }
  return { done, frac: done, detail: "" };
}

/** The latest epoch's warnings from the model's diagnostics (e.g. collapsed components), with that epoch. */
export function latestWarnings(state: RunState): { epoch: number; warnings: RunWarning[] } | null {
  const last = state.metrics[state.metrics.length - 1];
  const list = last && Array.isArray(last.warnings) ? (last.warnings as RunWarning[]) : [];
  return list.length ? { epoch: last.epoch, warnings: list } : null;
}
