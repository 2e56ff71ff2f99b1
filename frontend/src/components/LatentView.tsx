"use client";
import { runName } from "@/lib/runName";
import Link from "next/link";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api } from "@/lib/api";
import { resolveView } from "@/lib/latent/catalogue";
import type { Catalogue } from "@/lib/latent/catalogue";
import { prefetchMap, useCatalogue } from "@/lib/latent/files";
import { useRunId } from "@/lib/useRunId";
import { ComponentMappingContext, useComponentMapping } from "@/lib/latent/componentMapping";
import { phasesOf } from "@/lib/phases";
import { projectionFile } from "@/lib/latent/catalogue";
import { readUrlState, substitutions, writeUrlState } from "@/lib/latent/urlState";
import type { ExplorerUrlState } from "@/lib/latent/urlState";
import { CameraLink } from "./latent/camera";
import { ComparePanel } from "./latent/ComparePanel";
import { Explorer } from "./latent/Explorer";
import type { View } from "./latent/Explorer";
import { RunProblem, useRunDetail } from "./RunView";
import { Empty, StatusBadge } from "./ui";
import { ViewBus } from "@/viewkit/bus";
import type { ExplorerLink, ViewRun } from "@/viewkit/contract";
import { installKit, ViewSlot } from "@/viewkit/ViewSlot";
import * as explorerKit from "@/viewkit/explorerKit";
import { useClassNames } from "@/viewkit/run";

/** The latent explorer (/runs/<id>/latent): the WebGL map of every projection at every epoch, the
 * the health of GM-VAEs' components, decoded samples and the comparison of epochs or runs. */
export function LatentView() {
  const runId = useRunId();
  if (runId === undefined) return <p className="muted">Loading…</p>;
  return <LatentViewFor key={runId ?? ""} runId={runId} />;
}

installKit({ "@latentdeck/view-kit/explorer": explorerKit }); // the explorer's views share its colours and matching

function LatentViewFor({ runId }: { runId: string | null }) {
  const { detail, error } = useRunDetail(runId);
  useEffect(() => { if (runId) prefetchMap(runId, readUrlState(window.location.search).state); }, [runId]);
  if (runId === null || error) return <RunProblem runId={runId} error={error} />;
  if (!detail) return <p className="muted">Loading run {runId}…</p>;
  return <LatentPage runId={runId} detail={detail} />;
}

function LatentPage({ runId, detail }: { runId: string; detail: NonNullable<ReturnType<typeof useRunDetail>["detail"]> }) {
  const { catalogue, loaded, feed } = useCatalogue(runId, detail.summary.status);
  // the view lives in the page address: read once, written back as it changes (useUrlView)
  const [asked] = useState(() => readUrlState(window.location.search));
  const [view, setView] = useState<View>({ method: asked.state.method ?? "", dims: asked.state.dims ?? 2, epoch: asked.state.epoch ?? null });
  const [filterText, setFilterText] = useState(asked.state.filter ?? "");
  const [anchors, setAnchors] = useState<string[]>(asked.state.focus ?? []);
  const [hover, setHover] = useState<string | null>(null);
  const camera = useMemo(() => {
    const link = new CameraLink();
    if (asked.state.camera) link.last = { dims: asked.state.dims ?? 2, ...asked.state.camera };
    return link;
  }, [asked]);
  const config = detail.config as Record<string, unknown>;
  const classes = useClassNames(String(config.dataset ?? ""));

  const resolved = resolveView(catalogue, view);
  const { methods, method } = resolved;
  const resolvedDims = resolved.dims;
  const shownEpoch = resolved.epoch;
  const bus = useMemo(() => new ViewBus(), []);
  const phases = useMemo(() => phasesOf((detail as { phases?: unknown }).phases), [detail]);
  const run = useMemo<ViewRun>(() => ({ id: runId, status: detail.summary.status, model: detail.summary.model ?? null,
    dataset: String(config.dataset ?? "") || null, config, phases, classes }), [runId, detail, config, phases, classes]);
  const explorer: ExplorerLink = {
    method: method || null, dims: resolvedDims, projection: method && shownEpoch !== null ? projectionFile(catalogue, method, resolvedDims, shownEpoch) : null,
    focus: anchors, hover, filter: filterText, setFocus: setAnchors, setHover, setFilter: setFilterText, camera,
    publish: bus.publish, subscribe: bus.subscribe,
  };
  const compute = useCallback((name: string, request: object) => api.compute(runId, name as never, request), [runId]);
  const mapping = useComponentMapping(runId, catalogue, loaded);
  const onExplorerState = useUrlView({ method, dims: resolvedDims, epoch: view.epoch === null ? null : shownEpoch, filter: filterText, focus: anchors }, camera);
  const [notesRead, setNotesRead] = useState(false);
  const urlNotes = loaded && methods.length && !notesRead ? [...asked.problems, ...substitutions(asked.state, { ...resolved, methods })] : [];

  return (
    <ComponentMappingContext.Provider value={mapping}>
      <div className="page-head">
        <div>
          <h1>Latent space <span className="mono muted" data-testid="run-title">{runName(detail.summary)}</span></h1>
          {runName(detail.summary) !== runId ? <div className="mono muted small">{runId}</div> : null}
          <div className="run-meta">
            <StatusBadge status={detail.summary.status} />
            <span>model <b>{detail.summary.model}</b></span>
            <span>dataset <b>{String(config.dataset ?? "?")}</b></span>
            <span>{detail.summary.epochs_completed}/{detail.summary.epochs ?? "?"} epochs</span>
          </div>
        </div>
        <Link href={`/runs/${encodeURIComponent(runId)}/`} className="btn" prefetch={false}>← Training view</Link>
      </div>

      <section className="panel" data-testid="latent-map">
        {!loaded ? <p className="muted">Loading artifacts…</p> : methods.length === 0 ? (
          <Empty title="This run has no projection yet.">
            Projections are written after each epoch{feed === "live" ? " — the map appears here as soon as the first one is written" : ""}
            {" "}(or by <code>latentdeck backfill {runId}</code>).
          </Empty>
        ) : (
          <>
          {urlNotes.length ? <p className="note" data-testid="url-note">This link asked for a view this run cannot show as is: {urlNotes.join("; ")}.{" "}
            <button type="button" className="linkish" onClick={() => setNotesRead(true)}>dismiss</button></p> : null}
          <Explorer runId={runId} catalogue={catalogue} feed={feed} view={{ ...view, method }} setView={setView}
            initial={asked.state} onState={onExplorerState}
            filterText={filterText} setFilterText={setFilterText} anchors={anchors} setAnchors={setAnchors}
            hover={hover} setHover={setHover} camera={camera} classes={classes}
            phases={phases} views={{ run, epoch: shownEpoch, files: catalogue.files, compute, explorer }} />
          </>
        )}
      </section>

      <ViewSlot mount="explorer-side" props={{ run, epoch: shownEpoch, files: catalogue.files, compute, explorer }} />

      {method ? <ComparePanel runId={runId} catalogue={catalogue} method={method} dims={resolvedDims} epoch={shownEpoch}
        dataset={String(config.dataset ?? "")} classes={classes} /> : null}

      <ProjectionsOnDisk catalogue={catalogue} loaded={loaded} runId={runId} />
    </ComponentMappingContext.Provider>
  );
}

function ProjectionsOnDisk({ catalogue, loaded, runId }: { catalogue: Catalogue; loaded: boolean; runId: string }) {
  const rows = [...catalogue.projections.entries()].flatMap(([m, byDims]) => [...byDims.entries()].map(([d, eps]) => ({ m, d, eps })));
  return (
    <section className="panel" data-testid="latent-projections">
      <h2>Projections on disk</h2>
      {!loaded ? <p className="muted">Loading artifacts…</p> : rows.length === 0 ? (
        <Empty title="This run has no projections yet.">They are written after each epoch (or by <code>latentdeck backfill {runId}</code>).</Empty>
      ) : (
        <table>
          <thead><tr><th>projection</th><th>epochs</th><th>kNN files</th></tr></thead>
          <tbody>
            {rows.sort((a, b) => a.m.localeCompare(b.m) || a.d - b.d).map(({ m, d, eps }) => (
              <tr key={`${m}${d}`}><td>{m} {d}-D</td><td className="mono small">{eps.join(", ")}</td>
                <td className="mono small">{catalogue.neighbours.get(m)?.size ?? 0}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** Keeps the page address in step with the explorer's view (replaceState, no history entries; the camera a
 * quarter second after it settles). Returns the callback the explorer reports its own settings to. */
function useUrlView(view: { method: string; dims: number; epoch: number | null; filter: string; focus: string[] }, camera: CameraLink) {
  const state = useRef<ExplorerUrlState>({});
  const timer = useRef<number | null>(null);
  const write = useCallback(() => {
    if (timer.current !== null) window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => {
      const query = writeUrlState(state.current, { dims: 2, colour: "label", overlay: "none", edges: "focused", mode: "extent_gated", radius: 1,
        changes: "off", changeColour: "on", digits: "auto" });
      const next = `${window.location.pathname}${query ? `?${query}` : ""}`;
      if (next !== `${window.location.pathname}${window.location.search}`) window.history.replaceState(null, "", next);
    }, 250);
  }, []);
  const { method, dims, epoch, filter, focus } = view;
  useEffect(() => {
    if (!method) return;
    state.current = { ...state.current, method, dims, epoch: epoch ?? undefined, filter, focus };
    write();
  }, [method, dims, epoch, filter, focus, write]);
  useEffect(() => camera.subscribe("address", (c) => {
    if (c.dims !== state.current.dims) return; // the compare panel's canvas of another dimension
    state.current = { ...state.current, camera: { target: c.target, zoom: c.zoom, rotationX: c.rotationX, rotationOrbit: c.rotationOrbit } };
    write();
  }), [camera, write]);
  useEffect(() => () => { if (timer.current !== null) window.clearTimeout(timer.current); }, []);
  return useCallback((settings: ExplorerUrlState) => {
    state.current = { ...state.current, ...settings };
    write();
  }, [write]);
}
