"use client";
import Link from "next/link";
import { useEffect, useMemo, useState } from "react";
import { api } from "@/lib/api";
import type { Artifact } from "@/lib/api";
import {
  catalogueOf, DISTORTION_RANGE_LOG2, fmt, legendGradient, OVERLAY_KINDS, OVERLAY_LABELS, overlayFile, projectionFile,
} from "@/lib/overlays";
import type { GridDoc, OverlayKind } from "@/lib/overlays";
import { useRunId } from "@/lib/useRunId";
import { LABEL_COLOURS, LatentMap, useJson } from "./LatentMap";
import { RunProblem, useRunDetail } from "./RunView";
import { SamplesPanel } from "./SamplesPanel";
import { Empty, StatusBadge } from "./ui";

/** The latent explorer: a 2-D map of one projection at one epoch (latest by default), points coloured by
 * label, with a persisted overlay (density or distortion grid) drawn under them. Clicking a point selects
 * its held-out index (`selectedIndex`), which the decoded-samples panel reads. */
export function LatentView() {
  const runId = useRunId();
  return <LatentViewFor key={runId ?? ""} runId={runId} />;
}

function LatentViewFor({ runId }: { runId: string | null | undefined }) {
  const { detail, error } = useRunDetail(runId);
  const [artifacts, setArtifacts] = useState<Artifact[] | null>(null);
  const [method, setMethod] = useState<string | null>(null);
  const [epoch, setEpoch] = useState<number | null>(null); // null: the latest epoch of the chosen method
  const [overlay, setOverlay] = useState<OverlayKind>("none");
  const [selectedIndex, setSelectedIndex] = useState<number | null>(null);
  useEffect(() => {
    if (!runId || !detail) return;
    api.listArtifacts(runId).then(setArtifacts, () => setArtifacts([]));
  }, [runId, detail]);

  const catalogue = useMemo(() => catalogueOf((artifacts ?? []).map((a) => a.name)), [artifacts]);
  const methods = [...catalogue.methods.keys()].sort((a, b) => (a === "pca" ? -1 : b === "pca" ? 1 : a.localeCompare(b)));
  const chosenMethod = method && catalogue.methods.has(method) ? method : methods[0] ?? null;
  const epochs = chosenMethod ? catalogue.methods.get(chosenMethod)! : [];
  const shownEpoch = epoch !== null && epochs.includes(epoch) ? epoch : epochs[epochs.length - 1] ?? null;
  const overlayName = chosenMethod && shownEpoch !== null ? overlayFile(overlay, chosenMethod, shownEpoch) : null;
  const overlayOnDisk = overlayName !== null && catalogue.overlays.has(overlayName);
  const grid = useJson<GridDoc>(runId ?? "", overlayOnDisk ? overlayName : null);

  if (runId === undefined) return <p className="muted">Loading…</p>;
  if (runId === null || error) return <RunProblem runId={runId} error={error} />;
  if (!detail) return <p className="muted">Loading run {runId}…</p>;

  const config = detail.config as Record<string, unknown>;
  const modelOptions = (config.model_options ?? {}) as Record<string, unknown>;
  const components = typeof modelOptions.num_components === "number" ? modelOptions.num_components : null;
  const available = (kind: OverlayKind) =>
    kind === "none" || (chosenMethod !== null && shownEpoch !== null && catalogue.overlays.has(overlayFile(kind, chosenMethod, shownEpoch)!));

  return (
    <>
      <div className="page-head">
        <div>
          <h1>Latent space <span className="mono muted" data-testid="run-title">{detail.summary.name || runId}</span></h1>
          <div className="run-meta">
            <StatusBadge status={detail.summary.status} />
            <span>model <b>{detail.summary.model}</b></span>
            <span>{detail.summary.epochs_completed}/{detail.summary.epochs ?? "?"} epochs</span>
          </div>
        </div>
        <Link href={`/runs/${encodeURIComponent(runId)}/`} className="btn">← Training view</Link>
      </div>

      <section className="panel" data-testid="latent-map">
        <h2>2-D map</h2>
        {artifacts === null ? <p className="muted">Loading artifacts…</p> : !chosenMethod || shownEpoch === null ? (
          <Empty title="This run has no 2-D projection yet.">Projections are written after each epoch (or by <code>latentdeck backfill {runId}</code>).</Empty>
        ) : (
          <>
            <div className="filters">
              <label>projection{" "}
                <select value={chosenMethod} onChange={(e) => setMethod(e.target.value)} data-testid="map-method" style={{ width: "auto" }}>
                  {methods.map((m) => <option key={m} value={m}>{m}</option>)}
                </select>
              </label>
              <label>epoch{" "}
                <select value={shownEpoch} onChange={(e) => setEpoch(Number(e.target.value))} data-testid="map-epoch" style={{ width: "auto" }}>
                  {[...epochs].reverse().map((n, i) => <option key={n} value={n}>{n}{i === 0 ? " (latest)" : ""}</option>)}
                </select>
              </label>
              <label>overlay{" "}
                <select value={overlay} onChange={(e) => setOverlay(e.target.value as OverlayKind)} data-testid="map-overlay" style={{ width: "auto" }}>
                  {OVERLAY_KINDS.map((k) => (
                    <option key={k} value={k} disabled={!available(k)}>{OVERLAY_LABELS[k]}{available(k) ? "" : " (not computed)"}</option>
                  ))}
                </select>
              </label>
            </div>
            {overlay !== "none" && !overlayOnDisk ? (
              <p className="muted small" data-testid="overlay-missing">
                No {OVERLAY_LABELS[overlay]} for {chosenMethod} at epoch {shownEpoch}.{" "}
                {overlay.startsWith("prior") ? "Only models with a mixture prior (the GM-VAE) have one; " : ""}
                grids are written after each epoch by the <code>{overlay === "distortion" ? "distortion" : "density"}</code> generator
                {" "}(or <code>latentdeck backfill {runId} --artifacts {overlay === "distortion" ? "knn,distortion" : "density"}</code>).
              </p>
            ) : null}
            <div style={{ display: "flex", gap: "1.25rem", flexWrap: "wrap", alignItems: "flex-start" }}>
              <LatentMap runId={runId} projectionName={projectionFile(chosenMethod, shownEpoch)}
                overlay={overlayOnDisk && overlayName ? { kind: overlay, name: overlayName, grid } : null}
                selectedIndex={selectedIndex} onSelect={setSelectedIndex} />
              <div style={{ minWidth: 220, flex: "1 1 220px" }}>
                <LabelLegend />
                {overlayOnDisk && grid?.doc ? <OverlayLegend kind={overlay} grid={grid.doc} /> : null}
                <p className="small" data-testid="map-selection">
                  {selectedIndex === null ? <span className="muted">Click a point to select its example.</span>
                    : <>Selected held-out example <b className="mono">#{selectedIndex}</b>{" "}
                      <button type="button" className="btn ghost small" onClick={() => setSelectedIndex(null)}>clear</button></>}
                </p>
              </div>
            </div>
          </>
        )}
      </section>

      {/* Decoded samples: the clicked point's held-out index and the map's epoch. */}
      <SamplesPanel runId={runId} model={detail.summary.model ?? String(config.model)} epoch={shownEpoch}
        selectedIndex={selectedIndex} components={components} />

      <ProjectionsOnDisk methods={catalogue.methods} loaded={artifacts !== null} runId={runId} />
    </>
  );
}

function LabelLegend() {
  return (
    <div className="small" data-testid="label-legend" style={{ marginBottom: "0.8rem" }}>
      <div style={{ fontWeight: 600, marginBottom: "0.2rem" }}>label</div>
      <div style={{ display: "flex", flexWrap: "wrap", gap: "0.3rem 0.7rem" }}>
        {LABEL_COLOURS.map((colour, label) => (
          <span key={label}><i style={{ display: "inline-block", width: 10, height: 10, borderRadius: "50%", background: colour, marginRight: 4 }} />{label}</span>
        ))}
      </div>
    </div>
  );
}

function OverlayLegend({ kind, grid }: { kind: OverlayKind; grid: GridDoc }) {
  const range = 2 ** DISTORTION_RANGE_LOG2;
  return (
    <div className="small" data-testid="overlay-legend" style={{ marginBottom: "0.8rem" }}>
      <div style={{ fontWeight: 600, marginBottom: "0.2rem" }}>{OVERLAY_LABELS[kind]}</div>
      <div style={{ height: 12, borderRadius: 3, border: "1px solid var(--border)", background: legendGradient(kind) }} />
      {kind === "distortion" ? (
        <>
          <div style={{ display: "flex", justifyContent: "space-between" }} className="muted">
            <span>÷{range} squeezed</span><span>median {fmt(grid.stats.median)}</span><span>×{range} stretched</span>
          </div>
          <div className="mono" data-testid="overlay-stats">min {fmt(grid.stats.min)} · median {fmt(grid.stats.median)} · max {fmt(grid.stats.max)} · k {grid.k}</div>
          <div className="muted">{grid.metric_text}</div>
        </>
      ) : (
        <>
          <div style={{ display: "flex", justifyContent: "space-between" }} className="muted">
            <span>0</span><span>√ scale</span><span>{fmt(grid.stats.max)}</span>
          </div>
          <div className="mono" data-testid="overlay-stats">
            max {fmt(grid.stats.max)} · mass in view {fmt(grid.stats.mass_in_bounds)}
          </div>
          <div className="muted">{grid.estimator}: {grid.estimator_text}</div>
        </>
      )}
      <div className="muted">{grid.grid.nx}×{grid.grid.ny} grid · {grid.meta.subset_n} points · {fmt(grid.meta.compute_ms)} ms</div>
    </div>
  );
}

function ProjectionsOnDisk({ methods, loaded, runId }: { methods: Map<string, number[]>; loaded: boolean; runId: string }) {
  return (
    <section className="panel" data-testid="latent-projections">
      <h2>Projections on disk</h2>
      {!loaded ? <p className="muted">Loading artifacts…</p> : methods.size === 0 ? (
        <Empty title="This run has no projections yet.">They are written after each epoch (or by <code>latentdeck backfill {runId}</code>).</Empty>
      ) : (
        <table>
          <thead><tr><th>projection</th><th>epochs</th></tr></thead>
          <tbody>
            {[...methods.entries()].sort().map(([m, eps]) => (
              <tr key={m}><td>{m} 2-D</td><td className="mono small">{eps.join(", ")}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
