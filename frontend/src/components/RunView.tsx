"use client";
import { runName } from "@/lib/runName";
import Link from "next/link";
import { useCallback, useEffect, useMemo, useState } from "react";
import { api, ApiError, TERMINAL, isActive } from "@/lib/api";
import type { RunDetail } from "@/lib/api";
import { useRunId } from "@/lib/useRunId";
import { useRunEvents } from "@/lib/useRunEvents";
import type { Connection } from "@/lib/useRunEvents";
import { phasesOf } from "@/lib/phases";
import { fmt, latestWarnings, progressOf } from "@/lib/runState";
import type { RunState } from "@/lib/runState";
import { ActionsPanel } from "./ActionsPanel";
import { GenericArtifacts } from "./GenericArtifacts";
import { RunPhasesContext } from "./LineChart";
import { RunCharts } from "./RunCharts";
import { ConfirmButton, Empty, ErrorBox, StatusBadge, fullTime } from "./ui";
import { useViewRun } from "@/viewkit/run";
import { ViewSlot } from "@/viewkit/ViewSlot";
import { PageLinks } from "@/viewkit/PageLinks";

const CONNECTION_TEXT: Record<Connection, string> = {
  connecting: "connecting…",
  live: "live",
  reconnecting: "reconnecting…",
  replay: "replay",
  ended: "run ended",
  offline: "offline",
};

export function ConnectionIndicator({ connection }: { connection: Connection }) {
  const title = connection === "reconnecting"
    ? "The event stream dropped; the page reconnects by itself and resumes after the last event it has."
    : connection === "replay" ? "This run had already ended: the page is drawn from its event log and artifacts." : undefined;
  return <span className={`conn conn-${connection}`} data-testid="connection" data-state={connection} title={title}><i />{CONNECTION_TEXT[connection]}</span>;
}

/** Loads the run's summary; renders not-found and unreachable-server states itself. */
export function useRunDetail(runId: string | null | undefined) {
  const [detail, setDetail] = useState<RunDetail | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    if (!runId) return;
    let cancelled = false;
    api.getRun(runId).then(
      (d) => { if (!cancelled) setDetail(d); },
      (e: unknown) => { if (!cancelled) setError(e instanceof ApiError ? e : new ApiError(0, String(e))); },
    );
    return () => { cancelled = true; };
  }, [runId]);
  return { detail, error };
}

export function RunProblem({ runId, error }: { runId: string | null; error: ApiError | null }) {
  if (!runId) {
    return <ErrorBox title="This address names no run.">Open a run from the <Link href="/runs/">runs list</Link>.</ErrorBox>;
  }
  if (error?.status === 404) {
    return (
      <ErrorBox title={`There is no run “${runId}”.`}>
        It may have been deleted, or the link is mistyped. See the <Link href="/runs/">runs list</Link> or <Link href="/">start a new run</Link>.
      </ErrorBox>
    );
  }
  return <ErrorBox title="The run could not be loaded.">{error?.detail} Reload the page once the server is back (./lab).</ErrorBox>;
}

function Progress({ state, total }: { state: RunState; total: number }) {
  const { done, frac, detail } = progressOf(state);
  const pct = total ? Math.min(100, (100 * frac) / total) : 0;
  const busy = state.stage && (state.stage.stage === "artifacts" || state.stage.stage === "before_epoch" || state.stage.stage === "waiting");
  return (
    <div data-testid="progress">
      <div className="progress" role="progressbar" aria-valuemin={0} aria-valuemax={total} aria-valuenow={done}><div style={{ width: `${pct}%` }} /></div>
      <div className="progress-row">
        <span data-testid="epochs-done">{done}/{total || "?"} epochs</span>
        <span data-testid={busy ? "stage" : undefined} data-stage={state.stage?.stage}>{detail}</span>
      </div>
    </div>
  );
}

function WaitingNote({ state }: { state: RunState }) {
  const st = state.stage;
  const waiting = !!st && st.stage === "waiting" && !state.started;
  const [now, setNow] = useState(() => Date.now() / 1000);
  useEffect(() => {
    if (!waiting) return;
    const timer = setInterval(() => setNow(Date.now() / 1000), 1000);
    return () => clearInterval(timer);
  }, [waiting]);
  if (!waiting || !st) return null;
  const elapsed = Math.max(0, Math.round(now - st.since));
  const expected = typeof st.expectedS === "number" ? Math.round(st.expectedS) : null;
  const clock = `${Math.floor(elapsed / 60)}:${String(elapsed % 60).padStart(2, "0")}`;
  if (st.queuePosition) {
    const cap = st.maxConcurrentRuns;
    return (
      <div className="callout" data-testid="waiting-note" data-queue-position={st.queuePosition}>
        <strong data-testid="queue-position">Queued: position {st.queuePosition} of {st.queueLength ?? "?"}</strong>
        <span className="muted"> (waiting {clock} so far)</span>
        <div>
          {cap ? `At most ${cap} run${cap === 1 ? "" : "s"} train at once on this lab. ` : ""}
          {st.queuePosition === 1 ? "It is next: it" : `${st.queuePosition - 1} queued run${st.queuePosition > 2 ? "s are" : " is"} ahead of it; it`} starts
          by itself when a training run ends.
        </div>
        <div className="muted small">Cancelling it removes it from the queue; it never trains.</div>
      </div>
    );
  }
  return (
    <div className="callout" data-testid="waiting-note">
      <strong>Waiting to start: {clock} so far</strong>
      {expected !== null ? (
        <span className="muted"> (the warm-up usually takes about {expected} s{elapsed > expected ? "; it takes longer while the machine is busy" : ""})</span>
      ) : null}
      <div>{st.text}</div>
      {typeof st.maxWaitS === "number" ? <div className="muted small">It starts after {Math.round(st.maxWaitS)} s at the latest; cancelling it ends it at once.</div> : null}
    </div>
  );
}

/** What the model did between epochs (``model.update``), in the model's own words. */
function ModelSteps({ state }: { state: RunState }) {
  if (!state.modelSteps.length) return null;
  return (
    <div className="callout" data-testid="model-steps">
      <strong>Model steps</strong>
      <ul className="advice">
        {state.modelSteps.map((step, i) => <li key={i}>Before epoch {step.epoch}: {step.text}</li>)}
      </ul>
    </div>
  );
}

function Warnings({ state }: { state: RunState }) {
  const latest = latestWarnings(state);
  if (!latest) return null;
  return (
    <>
      {latest.warnings.map((w) => (
        <div key={w.code} className={`callout ${w.severity === "error" ? "error" : "warn"}`} role="alert" data-testid="run-warning" data-code={w.code}>
          <strong>{w.title}</strong> <span className="muted small">(epoch {latest.epoch})</span>
          <div>{w.detail}</div>
          {w.advice?.length ? (
            <div>What to try:<ul className="advice">{w.advice.map((a, i) => <li key={i}>{a}</li>)}</ul></div>
          ) : null}
        </div>
      ))}
    </>
  );
}

function EpochTable({ state }: { state: RunState }) {
  if (!state.metrics.length) return <Empty title="No epoch has finished yet.">Metrics appear here as each epoch ends.</Empty>;
  const hasAcc = state.metrics.some((m) => typeof m.heldout_accuracy === "number");
  return (
    <div className="epoch-table">
      <table data-testid="epoch-list">
        <thead><tr><th className="num">epoch</th><th className="num">loss</th><th className="num">held-out loss</th>{hasAcc ? <th className="num">held-out acc</th> : null}<th className="num">seconds</th></tr></thead>
        <tbody>
          {[...state.metrics].reverse().map((m) => (
            <tr key={m.epoch} data-epoch={m.epoch}>
              <td className="num">{m.epoch}</td>
              <td className="num">{fmt(m.loss)}</td>
              <td className="num">{fmt(m.heldout_loss)}</td>
              {hasAcc ? <td className="num">{typeof m.heldout_accuracy === "number" ? `${(100 * m.heldout_accuracy).toFixed(1)}%` : "–"}</td> : null}
              <td className="num">{fmt(m.epoch_seconds, 3)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function EndNote({ state }: { state: RunState }) {
  if (!state.ended) return null;
  const d = state.ended.data;
  if (state.ended.type === "run.failed") {
    return (
      <ErrorBox title={`The run failed (${String(d.reason ?? "error")}).`}>
        {String(d.error ?? "")}
        {d.reason === "worker_died" || d.reason === "interrupted" ? " Its worker process stopped; finished epochs are kept. Start a new run to continue." : " Finished epochs are kept; fix the cause and start a new run."}
        {typeof d.traceback === "string" ? <details><summary className="small">traceback</summary><pre className="error-text">{d.traceback}</pre></details> : null}
      </ErrorBox>
    );
  }
  if (state.ended.type === "run.cancelled") {
    return <div className="callout warn" data-testid="end-note"><strong>Cancelled</strong> after {String(d.epochs_completed ?? 0)} finished epoch(s); their checkpoints and artifacts are kept.</div>;
  }
  return <div className="callout" data-testid="end-note"><strong>Completed</strong> {String(d.epochs_completed ?? "")} epochs{typeof d.duration_s === "number" ? ` in ${d.duration_s.toFixed(1)} s` : ""}.</div>;
}

export function RunView() {
  const runId = useRunId();
  return <RunViewFor key={runId ?? ""} runId={runId} />;
}

function RunViewFor({ runId }: { runId: string | null | undefined }) {
  const { detail, error } = useRunDetail(runId);
  const finished = detail ? TERMINAL.has(detail.summary.status) : null;
  // the stream opens alongside the summary request (not after it): the first curve draws sooner
  const { state, connection: raw, mergeArtifacts } = useRunEvents(runId && !error ? runId : null);
  const connection: Connection = finished && (raw === "live" || raw === "ended" || raw === "connecting") ? "replay" : raw;
  const [cancelError, setCancelError] = useState<string | null>(null);
  const [cancelAsked, setCancelAsked] = useState(false);
  const ended = state.ended !== null;

  // the rows of the run's files (what run-panel views are told): the listing once the run has ended (backfilled files
  // too), and again shortly after files are announced while it trains (one request for a burst of announcements)
  const announced = state.filesAnnounced;
  useEffect(() => {
    if (!runId || !detail || (!finished && !ended && !announced)) return;
    const timer = setTimeout(() => api.files(runId).then((listing) => mergeArtifacts(listing.files), () => undefined), 300);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [runId, detail, finished, ended, announced]);

  // the model's phases: the model.phases event of a live run, else the run detail's (an older run: none)
  const detailPhases = (detail as { phases?: unknown } | null)?.phases;
  const phases = useMemo(() => (state.phases.length ? state.phases : phasesOf(detailPhases)), [state.phases, detailPhases]);
  const viewRun = useViewRun(runId, detail, phases); // what plugins' run-panel views are told
  const compute = useCallback((name: string, request: object) => api.compute(runId ?? "", name as never, request), [runId]);

  if (runId === undefined) return <p className="muted">Loading…</p>;
  if (runId === null || error) return <RunProblem runId={runId} error={error} />;
  if (!detail) return <p className="muted">Loading run {runId}…</p>;

  const summary = detail.summary;
  const config = detail.config as { epochs?: number; model?: string; dataset?: string; name?: string | null; preset?: string | null; executor?: string | null };
  const status = state.status ?? summary.status;
  const total = state.epochs ?? summary.epochs ?? config.epochs ?? 0;
  const cancel = async () => {
    setCancelError(null);
    try {
      await api.cancelRun(runId);
      setCancelAsked(true);
    } catch (e) {
      setCancelError(e instanceof ApiError ? e.detail : String(e));
    }
  };

  return (
    <RunPhasesContext.Provider value={phases}>
      <div className="page-head">
        <div>
          <h1 className="mono" data-testid="run-title">{runName(summary)}</h1>
          {runName(summary) !== runId ? <div className="mono muted small">{runId}</div> : null}
          <div className="run-meta">
            <StatusBadge status={status} />
            <ConnectionIndicator connection={connection} />
            <span>model <b>{summary.model ?? config.model}</b></span>
            <span>dataset <b>{summary.dataset ?? config.dataset}</b></span>
            {summary.device ? <span data-testid="run-device" title="where the run trains (config device)">device <b>{summary.device}</b></span> : null}
            {config.preset ? <span data-testid="run-preset">preset <b>{config.preset}</b></span> : null}
            {config.executor ? <span data-testid="run-executor" title="what starts the run's worker (config executor)">executor <b>{config.executor}</b></span> : null}
            <span title={fullTime(summary.created_at)}>created <b>{fullTime(summary.created_at)}</b></span>
          </div>
        </div>
        <div style={{ display: "flex", gap: "0.5rem", alignItems: "center" }}>
          <Link href={`/runs/${encodeURIComponent(runId)}/latent/`} className="btn">Latent explorer</Link>
          <PageLinks runId={runId} />
          {isActive(status) ? (
            cancelAsked ? <span className="muted small" data-testid="cancelling">stopping at the next check…</span> : (
              <ConfirmButton label="Cancel run" question="Stop this run? Finished epochs are kept." confirmLabel="Stop run" onConfirm={cancel} testId="cancel-run" />
            )
          ) : null}
        </div>
      </div>
      {cancelError ? <ErrorBox title="The run could not be cancelled.">{cancelError}</ErrorBox> : null}
      {connection === "reconnecting" ? (
        <div className="callout warn" data-testid="reconnecting-note"><strong>Connection lost.</strong> <div>Reconnecting to the server; the page resumes after the last event it received, without gaps or repeats.</div></div>
      ) : null}
      <EndNote state={state} />
      <WaitingNote state={state} />
      <Warnings state={state} />
      <ModelSteps state={state} />
      <section className="panel"><Progress state={state} total={total} /></section>
      <section className="panel">
        <h2>Loss curves</h2>
        <RunCharts state={state} total={total} phases={phases} active={isActive(status)} />
      </section>
      <div className="grid-2">
        {viewRun ? <ViewSlot mount="run-panel" props={{ run: viewRun, epoch: state.metrics.at(-1)?.epoch ?? null, files: state.files, compute }} /> : null}
        <section className="panel"><h2>Epochs</h2><EpochTable state={state} /></section>
      </div>
      <GenericArtifacts runId={runId} refresh={state.metrics.length + state.epochsDone + (ended ? 1000 : 0)} />
      <ActionsPanel runId={runId} />
      {state.failures.length ? (
        <section className="panel">
          <h2>Artifact problems</h2>
          <ul className="activity" data-testid="artifact-problems">{state.failures.map((f, i) => (
            <li key={i} data-reason={f.overBudget !== null ? "timeout" : "error"}><span className="type">{f.generator} · epoch {f.epoch ?? "?"}
              {f.overBudget !== null ? <b className="badge" style={{ color: "var(--warn)", marginLeft: "0.4rem" }}>over its time budget{f.overBudget ? ` of ${fmt(f.overBudget, 3)} s` : ""}</b> : null}</span>
              <span>{f.error}</span></li>))}</ul>
        </section>
      ) : null}
      <section className="panel">
        <h2>Recent events <span className="muted small" data-testid="events-seen">({state.eventsSeen} received, last seq {state.lastSeq})</span></h2>
        <ul className="activity">
          {[...state.recent].reverse().map((e) => <li key={e.seq}><span className="type mono">#{e.seq} {e.type}</span><span>{e.text}</span></li>)}
        </ul>
      </section>
    </RunPhasesContext.Provider>
  );
}
