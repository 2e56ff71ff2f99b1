// Walk the latent space from the focused digit: along one latent dimension, or toward a second digit
// picked on the map. The server decodes the path and places it on this 2-D map (exactly for PCA, as a
// stated estimate for UMAP); this view asks, draws the strip of decodes and hands the path to the map.
// A view of the walk plugin (ViewSpec "walk", mount explorer-layer), loaded by the UI at run time; a walk
// another view asked for (published as "walk" with its payload) is shown and drawn here too.
import { useEffect, useState } from "react";
import { api, ApiError, fmt, ui, useRunJson } from "@latentdeck/view-kit";
import { pointKey } from "@latentdeck/view-kit/explorer";
import type { OnDemandResult, ViewProps } from "@latentdeck/view-kit";
import type { ProjectionDoc } from "@latentdeck/view-kit/explorer";
import s from "./walk.module.css";

/** the request of the walk computation (its pydantic model: WalkRequest) */
interface WalkBody {
  from_idx: number; from_split: "heldout" | "train"; to_split: "heldout" | "train"; steps: number; method: string; epoch: number;
  mode: "dimension" | "interpolate" | "centre"; to_idx?: number; dim?: number;
}

export interface WalkPayload {
  epoch: number;
  method: string;
  mode: "dimension" | "interpolate" | "centre";
  steps: number;
  from: { split: string; idx: number; label: number };
  to?: { split?: string; idx?: number; label?: number; centre?: "class" | "component"; target?: number; text?: string };
  t?: number[];
  dim?: number;
  span?: number;
  span_source?: string;
  offsets?: number[];
  /** a walk along a dimension: whether the decoder uses it (absent in files written before) */
  change?: { relative_change: number; ignored: boolean; text: string };
  placement: { exact: boolean; estimator: string; coords: number[][]; text: string };
  strip: { png: string; tiles: number; tile: [number, number]; pad: number };
}

export default function WalkView({ run, explorer, compute }: ViewProps) {
  const doc = useRunJson<ProjectionDoc>(run.id, explorer?.projection ?? null)?.doc ?? null;
  const [result, setResult] = useState<WalkPayload | null>(null);
  const [targetKey, setTargetKey] = useState<string | null>(null);
  const [picking, setPicking] = useState(false);
  const subscribe = explorer?.subscribe;
  useEffect(() => subscribe?.("walk", (detail) => setResult(detail as WalkPayload | null)), [subscribe]);
  const drawPath = explorer?.drawPath;
  useEffect(() => {
    drawPath?.(result ? { id: "walk", method: result.method, epoch: result.epoch, coords: result.placement.coords, estimate: !result.placement.exact } : null);
  }, [result, drawPath]);
  if (!explorer || !doc) return null;
  const positionOf = (key: string | null) => {
    if (key === null) return null;
    const i = doc.indices.findIndex((_, j) => pointKey(doc, j) === key);
    return i >= 0 ? i : null;
  };
  const onPick = (on: boolean) => {
    setPicking(on);
    explorer.pickPoint?.(on ? (key) => { if (key !== null) setTargetKey(key); setPicking(false); } : null);
  };
  return <WalkPanel runId={run.id} doc={doc} start={explorer.focus.length === 1 ? positionOf(explorer.focus[0]) : null}
    target={positionOf(targetKey)} picking={picking} onPick={onPick} result={result} onResult={setResult} compute={compute} />;
}

function WalkPanel({ runId, doc, start, target, picking, onPick, result, onResult, compute }: {
  runId: string; doc: ProjectionDoc; start: number | null; target: number | null; picking: boolean;
  onPick: (on: boolean) => void; result: WalkPayload | null; onResult: (r: WalkPayload | null) => void;
  compute: ViewProps["compute"];
}) {
  const [mode, setMode] = useState<"interpolate" | "dimension">("interpolate");
  const [dim, setDim] = useState(0);
  const [steps, setSteps] = useState(9);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [cached, setCached] = useState<boolean | null>(null);
  const split = (i: number) => (doc.split?.[i] ?? "heldout") as "heldout" | "train";

  const go = () => {
    if (start === null) return;
    const body: WalkBody = { from_idx: doc.indices[start], from_split: split(start), to_split: "heldout", steps, method: doc.method, epoch: doc.epoch, mode };
    if (mode === "interpolate") {
      if (target === null) return;
      Object.assign(body, { to_idx: doc.indices[target], to_split: split(target) });
    } else {
      body.dim = dim;
    }
    setBusy(true);
    setError(null);
    compute("walk", body).then(
      (r: OnDemandResult) => { onResult(r.payload as unknown as WalkPayload); setCached(!r.created); setBusy(false); },
      (e: unknown) => { setError(e instanceof ApiError ? `${e.status}: ${e.detail}` : String(e)); onResult(null); setBusy(false); },
    );
  };

  const labels = result ? (result.mode !== "dimension" ? (result.t ?? []).map((t) => `t=${t.toFixed(2)}`) : (result.offsets ?? []).map((o) => (o > 0 ? "+" : "") + fmt(o))) : [];
  return (
    <div data-testid="walk-panel" style={{ marginTop: "0.9rem", borderTop: "1px dashed var(--border)", paddingTop: "0.7rem" }}>
      <h3 style={{ fontSize: "0.95rem", margin: "0 0 0.4rem" }}>Walk the latent space</h3>
      <p className="note" style={{ margin: "0 0 0.5rem" }}>Each tile is what the decoder draws at one step of a straight path through the latent
        space. A smooth morph means the space is continuous there; an abrupt change or a blurry tile means the path crosses a
        region no training digit occupies.</p>
      {doc.dims !== 2 ? <p className="note">Switch to 2-D: the path is drawn on the 2-D map.</p> : start === null ? (
        <p className="note">Click a digit on the map to start a walk from it.</p>
      ) : (
        <>
          <div className={ui.toolbar}>
            <span className="small">from <b>#{doc.indices[start]}</b> (label {doc.labels[start]})</span>
            <div className={ui.seg} role="group" data-testid="walk-mode">
              <button type="button" aria-pressed={mode === "interpolate"} onClick={() => setMode("interpolate")} data-value="interpolate">toward a second digit</button>
              <button type="button" aria-pressed={mode === "dimension"} onClick={() => setMode("dimension")} data-value="dimension">along a latent dimension</button>
            </div>
            {mode === "interpolate" ? (
              <span className="small">to {target !== null ? <b data-testid="walk-target">#{doc.indices[target]} (label {doc.labels[target]})</b> : <span className="muted">—</span>}{" "}
                <button type="button" className="btn small" aria-pressed={picking} onClick={() => onPick(!picking)} data-testid="walk-pick">
                  {picking ? "click the end digit on the map…" : "pick on the map"}</button></span>
            ) : (
              <label>dimension<select value={dim} onChange={(e) => setDim(Number(e.target.value))} data-testid="walk-dim">
                {Array.from({ length: doc.latent_dim }, (_, d) => <option key={d} value={d}>z[{d}]</option>)}</select></label>
            )}
            <label>steps<select value={steps} onChange={(e) => setSteps(Number(e.target.value))} data-testid="walk-steps">
              {[5, 9, 13, 17].map((n) => <option key={n} value={n}>{n}</option>)}</select></label>
            <button type="button" className="btn primary" disabled={busy || (mode === "interpolate" && target === null)} onClick={go}
              data-testid="walk-run">{busy ? "decoding…" : "Walk"}</button>
          </div>
          {error ? <p className="small" style={{ color: "var(--bad)" }} role="alert" data-testid="walk-error">{error}</p> : null}
        </>
      )}
      {result ? (
        <figure style={{ margin: 0 }} data-testid="walk-result" data-exact={String(result.placement.exact)} data-epoch={result.epoch}>
          <div className={s.strip}>
            {/* eslint-disable-next-line @next/next/no-img-element -- a run file served by the API */}
            <img src={api.artifactUrl(runId, result.strip.png)} alt={`${result.steps} decoded steps`} data-testid="walk-strip"
              style={{ width: result.strip.tiles * (result.strip.tile[1] + result.strip.pad) * 2 }} />
          </div>
          <div className={ui.ticks} style={{ width: result.strip.tiles * (result.strip.tile[1] + result.strip.pad) * 2, padding: 0 }}>
            {labels.map((l, i) => <span key={i} style={{ width: `${100 / labels.length}%`, textAlign: "center" }}>{l}</span>)}
          </div>
          <figcaption className="small">
            {result.mode === "centre" ? <span data-testid="walk-centre">straight line from #{result.from.idx} to {result.to?.text ?? `the ${result.to?.centre} centre`}</span>
              : result.mode === "interpolate" ? <>straight line from #{result.from.idx} to #{result.to!.idx} in latent space</>
              : <>z[{result.dim}] swept ±{fmt(result.span)} around #{result.from.idx} ({result.span_source})</>}
            {" · "}epoch {result.epoch} · {cached ? "from disk" : "computed"}
            {result.mode === "dimension" && result.change ? (
              <div className={result.change.ignored ? ui.warn : "muted"} data-testid="walk-change" data-ignored={String(result.change.ignored)}>
                {result.change.ignored ? <b>The decoder ignores this direction: </b> : null}{result.change.text}.</div>
            ) : null}
            <div className={result.placement.exact ? "muted" : ui.warn} data-testid="walk-placement">
              <b>{result.placement.exact ? "Placed exactly (black path)" : "Placed as an estimate (amber path)"}</b> on {result.method} 2-D: {result.placement.text}
            </div>
          </figcaption>
        </figure>
      ) : null}
    </div>
  );
}

