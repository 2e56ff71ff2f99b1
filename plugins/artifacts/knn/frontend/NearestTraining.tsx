// The focused point's nearest training digits in latent space: an on-demand computation of the knn plugin
// (the server encodes the training split once per checkpoint and keeps each answer on disk). It shows the
// training examples whose codes lie closest to this digit: what taught the model to put it here.
import { useState } from "react";
import { api, ApiError, fmt } from "@latentdeck/view-kit";
import { categoryColour, cssRgb } from "@latentdeck/view-kit/explorer";
import type { Compute } from "@latentdeck/view-kit";
import type { ProjectionDoc } from "@latentdeck/view-kit/explorer";
import s from "./neighbours.module.css";

interface NearestPayload {
  epoch: number;
  latent: string;
  query: { idx: number; label: number };
  predicted_by: "classifier" | "mixture" | null;
  searched: { n: number; text: string };
  neighbors: { rank: number; idx: number; label: number; distance: number; prediction: number | null; component: number | null }[];
  strip: { png: string; tiles: number; tile: [number, number]; pad: number };
  train_latents?: string;
}

const SIZE = 48;

function StripTile({ runId, strip, i }: { runId: string; strip: NearestPayload["strip"]; i: number }) {
  const [h, w] = strip.tile;
  const scale = SIZE / w;
  const width = strip.tiles * (w + strip.pad) + strip.pad;
  return <div className={s.thumb} role="img" aria-label={`training digit ${i + 1}`} style={{
    width: SIZE, height: h * scale, backgroundImage: `url(${api.artifactUrl(runId, strip.png)})`,
    backgroundSize: `${width * scale}px ${(h + 2 * strip.pad) * scale}px`,
    backgroundPosition: `${-(strip.pad + i * (w + strip.pad)) * scale}px ${-strip.pad * scale}px` }} />;
}

export function NearestTraining({ runId, doc, i, name, compute }: {
  runId: string; doc: ProjectionDoc; i: number; name: (c: number) => string; compute: Compute;
}) {
  const key = `${doc.epoch}:${doc.split?.[i] ?? "heldout"}:${doc.indices[i]}`;
  const [state, setState] = useState<{ key: string; busy: boolean; result: NearestPayload | null; error: string | null; cached: boolean }>(
    { key: "", busy: false, result: null, error: null, cached: false });
  const here = state.key === key ? state : { key, busy: false, result: null, error: null, cached: false };
  const go = () => {
    setState({ ...here, busy: true, error: null });
    compute("nearest-train", { idx: doc.indices[i], split: doc.split?.[i] ?? "heldout", k: 8, epoch: doc.epoch }).then(
      (r) => setState({ key, busy: false, result: r.payload as unknown as NearestPayload, error: null, cached: !r.created }),
      (e: unknown) => setState({ key, busy: false, result: null, error: e instanceof ApiError ? `${e.status}: ${e.detail}` : String(e), cached: false }));
  };
  const r = here.result;
  return (
    <div data-testid="why-train" style={{ margin: "0.2rem 0 0.6rem" }}>
      {!r ? (
        <div style={{ display: "flex", gap: "0.5rem", alignItems: "center", flexWrap: "wrap" }}>
          <button type="button" className="btn small" disabled={here.busy} onClick={go} data-testid="why-train-run">
            {here.busy ? "encoding the training digits…" : "Find its nearest training digits"}</button>
          <span className="small muted">the training examples whose codes lie closest to it (the first search of an epoch encodes the whole training split: a few seconds)</span>
        </div>
      ) : (
        <>
          <p className="small" style={{ margin: "0 0 0.3rem" }}><b>Nearest training digits</b>{" "}
            <span className="muted">{r.searched.text}{here.cached ? " · from disk" : ""}</span></p>
          <div className={s.whyGrid} data-testid="why-train-list">
            {r.neighbors.map((n, j) => (
              <div key={n.idx} className={s.whyTile} data-testid="why-train-item" data-index={n.idx} title={`training #${n.idx}: latent distance ${fmt(n.distance)}`}>
                <StripTile runId={runId} strip={r.strip} i={j} />
                <span><i className={s.swatch} style={{ background: cssRgb(categoryColour(n.label)), marginRight: 3 }} />
                  <b className={n.label !== r.query.label ? s.warn : undefined}>{name(n.label)}</b>
                  {n.prediction !== null ? <> · pred {name(n.prediction)}</> : n.component !== null ? <> · c{n.component}</> : null}</span>
                <span className="muted">#{n.idx} · d {fmt(n.distance)}</span>
              </div>
            ))}
          </div>
        </>
      )}
      {here.error ? <p className="small" style={{ color: "var(--bad)" }} role="alert">{here.error}</p> : null}
    </div>
  );
}
