"use client";
// Walk the latent space from the focused digit: along one latent dimension, or toward a second digit
// picked on the map. The server decodes the path and places it on this 2-D map (exactly for PCA, as a
// stated estimate for UMAP); this panel asks, draws the strip of decodes and hands the path to the map.
import { useState } from "react";
import { api, ApiError } from "@/lib/api";
import type { WalkBody, WalkResult } from "@/lib/api";
import type { ProjectionDoc } from "@/lib/latent/points";
import type { Scaling } from "@/lib/latent/scaling";
import { fmt } from "@/lib/overlays";
import type { PathDraw } from "./ScatterCanvas";
import s from "./Explorer.module.css";

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

/** The path in world units of the map it was placed on (null when the map shown is another one). */
export function walkPathOn(payload: WalkPayload | null, doc: ProjectionDoc | null, scaling: Scaling | null): PathDraw | null {
  if (!payload || !doc || !scaling || doc.dims !== 2 || payload.epoch !== doc.epoch || payload.method !== doc.method) return null;
  const points = new Float32Array(payload.placement.coords.length * 3);
  payload.placement.coords.forEach(([x, y], i) => {
    points[3 * i] = (x - scaling.centre[0]) * scaling.scale;
    points[3 * i + 1] = (y - scaling.centre[1]) * scaling.scale;
  });
  return { points, estimate: !payload.placement.exact };
}

export function WalkPanel({ runId, doc, start, target, picking, onPick, result, onResult }: {
  runId: string; doc: ProjectionDoc; start: number | null; target: number | null; picking: boolean;
  onPick: (on: boolean) => void; result: WalkPayload | null; onResult: (r: WalkPayload | null) => void;
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
    api.walk(runId, body).then(
      (r: WalkResult) => { onResult(r.payload as unknown as WalkPayload); setCached(!r.created); setBusy(false); },
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
          <div className={s.toolbar}>
            <span className="small">from <b>#{doc.indices[start]}</b> (label {doc.labels[start]})</span>
            <div className={s.seg} role="group" data-testid="walk-mode">
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
          <div className={s.ticks} style={{ width: result.strip.tiles * (result.strip.tile[1] + result.strip.pad) * 2, padding: 0 }}>
            {labels.map((l, i) => <span key={i} style={{ width: `${100 / labels.length}%`, textAlign: "center" }}>{l}</span>)}
          </div>
          <figcaption className="small">
            {result.mode === "centre" ? <span data-testid="walk-centre">straight line from #{result.from.idx} to {result.to?.text ?? `the ${result.to?.centre} centre`}</span>
              : result.mode === "interpolate" ? <>straight line from #{result.from.idx} to #{result.to!.idx} in latent space</>
              : <>z[{result.dim}] swept ±{fmt(result.span)} around #{result.from.idx} ({result.span_source})</>}
            {" · "}epoch {result.epoch} · {cached ? "from disk" : "computed"}
            {result.mode === "dimension" && result.change ? (
              <div className={result.change.ignored ? s.warn : "muted"} data-testid="walk-change" data-ignored={String(result.change.ignored)}>
                {result.change.ignored ? <b>The decoder ignores this direction: </b> : null}{result.change.text}.</div>
            ) : null}
            <div className={result.placement.exact ? "muted" : s.warn} data-testid="walk-placement">
              <b>{result.placement.exact ? "Placed exactly (black path)" : "Placed as an estimate (amber path)"}</b> on {result.method} 2-D: {result.placement.text}
            </div>
          </figcaption>
        </figure>
      ) : null}
    </div>
  );
}

