// The example's view in the explorer's side panel (ViewSpec "nearest-panel", mount explorer-side): for the one
// focused held-out digit, a button runs this package's on-demand computation "nearest" through the page's
// compute() (persisted before the answer, a repeat read from disk) and shows its strip and rows. A training
// neighbour's row focuses nothing (the explorer shows the held-out subset); the query row focuses the digit.
// Built like every plugin view (frontend/scripts/build-views.mjs) and carried in this package's wheel.
import { useState } from "react";
import { api, ApiError, fmt } from "@latentdeck/view-kit";
import type { ViewProps } from "@latentdeck/view-kit";

interface Row { rank: number; train_idx: number; label: number; distance: number }
interface Payload { epoch: number; idx: number; label: number; neighbours: Row[] }
interface Answer { key: string; busy: boolean; payload: Payload | null; strip: string | null; error: string | null; cached: boolean }

const K = 8;

export default function NearestPanel({ view, run, epoch, explorer, compute }: ViewProps) {
  const focused = explorer?.focus.length === 1 ? explorer.focus[0] : null;
  const idx = focused?.startsWith("heldout:") ? Number(focused.slice("heldout:".length)) : null;
  const key = `${epoch}:${idx}`;
  const [answer, setAnswer] = useState<Answer>({ key: "", busy: false, payload: null, strip: null, error: null, cached: false });
  const here = answer.key === key ? answer : { key, busy: false, payload: null, strip: null, error: null, cached: false };
  if (!explorer) return null;
  const head = <h2>{view.title} <span className="muted small">from the example package latentdeck-nearest</span></h2>;
  if (idx === null) {
    return (
      <section className="panel" data-testid="nearest-panel">{head}
        <p className="small muted" data-testid="nearest-panel-hint">{focused === null
          ? `Focus one held-out digit on the map to search its ${K} nearest training digits.`
          : "This example searches from held-out digits only: focus a held-out point."}</p>
      </section>);
  }
  const go = () => {
    setAnswer({ ...here, busy: true, error: null });
    compute("nearest", { idx, k: K, epoch }).then(
      (r) => setAnswer({ key, busy: false, payload: r.payload as unknown as Payload, cached: !r.created, error: null,
        strip: r.files.find((f) => f.endsWith("strip.png")) ?? null }),
      (e: unknown) => setAnswer({ key, busy: false, payload: null, strip: null, cached: false,
        error: e instanceof ApiError ? `${e.status}: ${e.detail}` : String(e) }));
  };
  const p = here.payload;
  return (
    <section className="panel" data-testid="nearest-panel">{head}
      {!p ? (
        <button type="button" className="btn small" disabled={here.busy || epoch === null} onClick={go} data-testid="nearest-panel-run">
          {here.busy ? "searching…" : `Find the ${K} nearest training digits of #${idx}`}</button>
      ) : (
        <>
          <p className="small" style={{ margin: "0 0 0.3rem" }}>
            <b>#{p.idx}</b> (label {run.classes[p.label] ?? p.label}) at epoch {p.epoch}
            <span className="muted">{here.cached ? " · from disk" : " · computed"}</span></p>
          {/* eslint-disable-next-line @next/next/no-img-element -- a run file served by the API, not a static asset */}
          {here.strip ? <img src={api.artifactUrl(run.id, here.strip)} alt={`digit #${p.idx}, then its nearest training digits`}
            style={{ imageRendering: "pixelated", width: "100%", maxWidth: 9 * 40 }} data-testid="nearest-panel-strip" /> : null}
          <table className="small" data-testid="nearest-panel-rows">
            <thead><tr><th>rank</th><th>training #</th><th>label</th><th>distance</th></tr></thead>
            <tbody>{p.neighbours.map((r) => (
              <tr key={r.rank}><td>{r.rank + 1}</td><td>{r.train_idx}</td>
                <td style={r.label !== p.label ? { color: "var(--bad)" } : undefined}>{run.classes[r.label] ?? r.label}</td>
                <td>{fmt(r.distance)}</td></tr>))}</tbody>
          </table>
        </>
      )}
      {here.error ? <p className="small" style={{ color: "var(--bad)" }} role="alert">{here.error}</p> : null}
    </section>
  );
}
