"use client";
import { runName, startedOf } from "@/lib/runName";
import Link from "next/link";
import { useState } from "react";
import { api, ApiError, isActive } from "@/lib/api";
import { usePolled } from "@/lib/usePolled";
import type { RunSummary } from "@/lib/api";
import { fmt, queueText } from "@/lib/runState";
import { ConfirmButton, Empty, ErrorBox, StatusBadge, fullTime, timeAgo } from "./ui";

const STATUSES = ["created", "running", "completed", "cancelled", "failed"];
const POLL_MS = 2000;

function keyMetrics(s: RunSummary): string {
  const m = (s.metrics ?? {}) as Record<string, unknown>;
  const parts = [`loss ${fmt(m.loss)}`];
  if (typeof m.heldout_accuracy === "number") parts.push(`held-out acc ${(100 * m.heldout_accuracy).toFixed(1)}%`);
  else if (typeof m.heldout_loss === "number") parts.push(`held-out loss ${fmt(m.heldout_loss)}`);
  return m.loss === undefined ? "–" : parts.join(" · ");
}

/** The model's latest warning (e.g. collapsed components) as a short badge; its page has the details. */
function warningOf(s: RunSummary) {
  const m = (s.metrics ?? {}) as { warnings?: { title?: string; detail?: string; severity?: string }[] };
  const w = Array.isArray(m.warnings) ? m.warnings[0] : undefined;
  if (!w) return null;
  return <span className={`badge warn-badge${w.severity === "error" ? " error" : ""}`} title={w.detail} data-testid="run-warning-badge"> ⚠ {w.title}</span>;
}

export function RunsBrowser() {
  const { data: runs, error, reload: load } = usePolled(api.listRuns, POLL_MS);
  const [actionError, setActionError] = useState<string | null>(null);
  const [status, setStatus] = useState("");
  const [model, setModel] = useState("");

  const act = async (what: () => Promise<unknown>) => {
    setActionError(null);
    try {
      await what();
    } catch (e) {
      setActionError(e instanceof ApiError ? e.detail : String(e));
    }
    await load();
  };

  if (error && runs === null) {
    return <ErrorBox title="The runs could not be listed.">{error}</ErrorBox>;
  }
  if (runs === null) return <p className="muted">Loading runs…</p>;
  if (runs.length === 0) {
    return (
      <div className="panel">
        <Empty title="No runs yet.">
          <Link href="/">Start one from the launch page</Link>, or from a terminal: <code>.venv/bin/latentdeck train --epochs 5</code>
        </Empty>
      </div>
    );
  }
  const models = [...new Set(runs.map((r) => r.model).filter(Boolean))] as string[];
  const shown = runs.filter((r) => (!status || r.status === status) && (!model || r.model === model));
  return (
    <>
      {error ? <ErrorBox title="Lost contact with the server; showing the last list.">{error}</ErrorBox> : null}
      {actionError ? <ErrorBox title="That did not work.">{actionError}</ErrorBox> : null}
      <div className="filters">
        <label>status{" "}
          <select value={status} onChange={(e) => setStatus(e.target.value)} data-testid="filter-status" style={{ width: "auto" }}>
            <option value="">all</option>
            {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <label>model{" "}
          <select value={model} onChange={(e) => setModel(e.target.value)} data-testid="filter-model" style={{ width: "auto" }}>
            <option value="">all</option>
            {models.map((m) => <option key={m} value={m}>{m}</option>)}
          </select>
        </label>
        <span className="muted small">{shown.length} of {runs.length} runs</span>
      </div>
      <div className="panel table-wrap">
        {shown.length === 0 ? (
          <Empty title="No run matches these filters.">Set both filters to “all” to see every run.</Empty>
        ) : (
          <table data-testid="runs-table">
            <thead>
              <tr><th>run</th><th>status</th><th>model</th><th>dataset</th><th className="num">epochs</th><th>key metrics</th><th>created</th><th /></tr>
            </thead>
            <tbody>
              {shown.map((r) => (
                <tr key={r.run_id} data-run-id={r.run_id}>
                  <td><Link href={`/runs/${encodeURIComponent(r.run_id)}/`} className="mono">{runName(r)}</Link>
                    {runName(r) !== r.run_id ? <div className="mono muted small">{startedOf(r.run_id) ?? r.run_id}</div> : null}</td>
                  <td>
                    <StatusBadge status={r.status} />
                    {r.queue_position ? (
                      <span className="muted small" data-testid="queue-position" title="waiting in the run queue: it starts by itself when a training run ends">
                        {" "}{queueText({ queuePosition: r.queue_position, queueLength: r.queue_length })}
                      </span>
                    ) : null}
                  </td>
                  <td>{r.model ?? "–"}</td>
                  <td>{r.dataset ?? "–"}</td>
                  <td className="num">{r.epochs_completed}/{r.epochs ?? "?"}</td>
                  <td className="small">{keyMetrics(r)}{warningOf(r)}</td>
                  <td className="small" title={fullTime(r.created_at)}>{timeAgo(r.created_at)}</td>
                  <td style={{ textAlign: "right" }}>
                    {isActive(r.status) ? (
                      <ConfirmButton label="Cancel" question="Stop this run? Finished epochs are kept." confirmLabel="Stop run"
                        onConfirm={() => act(() => api.cancelRun(r.run_id))} testId="cancel" />
                    ) : (
                      <ConfirmButton label="Delete" question="Delete this run and all its files?" confirmLabel="Delete" danger
                        onConfirm={() => act(() => api.deleteRun(r.run_id))} testId="delete" />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </>
  );
}
