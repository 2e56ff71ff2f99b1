"use client";
// The latent explorer's map: a deck.gl scatter of one projection (PCA / UMAP, 2-D / 3-D) at one epoch,
// coloured by label, prediction, component, confidence or training split, with kNN edges, focus and
// lasso, hover digits, a 2-D overlay and the epoch timeline. Everything drawn comes from run files.
// The React Compiler is not enabled in this build; its lint rule cannot tell that the helpers below only
// read the parsed files they are given (they never mutate them), so it is off for this file.
/* eslint-disable react-hooks/preserve-manual-memoization */
import dynamic from "next/dynamic";
import { useCallback, useEffect, useMemo, useState } from "react";
import type { Catalogue } from "@/lib/latent/catalogue";
import { neighboursFile, projectionFile, resolveView } from "@/lib/latent/catalogue";
import type { Feed } from "@/lib/latent/files";
import { loadJson, useRunJson } from "@/lib/latent/files";
import { describeFilter, matchFilter, parseFilter, unavailableKey } from "@/lib/latent/filter";
import { focusCsv, focusJson, focusOf, focusRows } from "@/lib/latent/focus";
import { RADIUS_RANGE, defaultRadiusFactor, crowdAwareOpacity, edgesOf } from "@/lib/latent/gating";
import type { EdgeMode, EdgeScope, NeighboursDoc } from "@/lib/latent/gating";
import { colourBuffer, colourChoices, keyIndex, pointKey } from "@/lib/latent/points";
import { useMapping } from "@/lib/latent/componentMapping";
import type { ColourBy, ProjectionDoc, SheetDoc } from "@/lib/latent/points";
import { pointRadiusPx, scalingOf, toWorld } from "@/lib/latent/scaling";
import { gridCanvas, overlayKinds, overlayLabel } from "@/lib/overlays";
import type { GridDoc, OverlayKind } from "@/lib/overlays";
import { useDarkTheme } from "@/lib/useDarkTheme";
import type { Phase } from "@/lib/phases";
import type { ExplorerUrlState } from "@/lib/latent/urlState";
import type { CameraLink } from "./camera";
import { ChangesPanel, ChangesToggle, useChanges } from "./Changes";
import { CrossFilter } from "./CrossFilter";
import { filterablePoints } from "@/lib/latent/crossfilter";
import { FocusBox, HoverCard, HowTo, Legend, OverlayLegend, Trust } from "./ExplorerSide";
import type { EdgeIndex, OverlayImage, PathDraw } from "./ScatterCanvas";
import { SpritesToggle, useSprites } from "./Sprites";
import type { MapPath, ViewProps } from "@/viewkit/contract";
import { ViewSlot } from "@/viewkit/ViewSlot";
import { Timeline } from "./Timeline";
import s from "./Explorer.module.css";
import ui from "@/viewkit/ui.module.css";

const loadScatter = () => import("./ScatterCanvas");
const ScatterCanvas = dynamic(loadScatter, { ssr: false, loading: () => <div className={s.canvasBox} /> });

export const TRANSITION_MS = 700;
const EDGE_RGB: [number, number, number] = [40, 44, 52];
const MANY_FOCUSED = 12; // more focused points than this: their nearest PER_POINT neighbours' edges only
const PER_POINT = 3;
const EDGE_RGB_DARK: [number, number, number] = [196, 202, 214]; // light edges on the dark map

export interface View {
  method: string;
  dims: number;
  epoch: number | null; // null: follow the newest
}

function download(name: string, text: string, type: string) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A view's path in world units of the map shown (null when the map shown is another one). */
function pathOn(path: MapPath | null, doc: ProjectionDoc | null, scaling: ReturnType<typeof scalingOf> | null): PathDraw | null {
  if (!path || !doc || !scaling || doc.dims !== 2 || path.epoch !== doc.epoch || path.method !== doc.method) return null;
  const points = new Float32Array(path.coords.length * 3);
  path.coords.forEach(([x, y], i) => {
    points[3 * i] = (x - scaling.centre[0]) * scaling.scale;
    points[3 * i + 1] = (y - scaling.centre[1]) * scaling.scale;
  });
  return { id: path.id, points, estimate: path.estimate };
}

export function useShownDoc(runId: string, name: string | null) {
  const loaded = useRunJson<ProjectionDoc>(runId, name);
  const [last, setLast] = useState<ProjectionDoc | null>(null);
  if (loaded?.doc && loaded.doc !== last) setLast(loaded.doc); // keep drawing the previous file while the next loads
  return { doc: loaded?.doc ?? last, error: loaded?.error ?? null, loading: !loaded };
}

export function Explorer({ runId, catalogue, feed, view, setView, filterText, setFilterText, anchors, setAnchors,
  hover, setHover, camera, classes, phases = [], initial = {}, onState, views }: {
  runId: string; catalogue: Catalogue; feed: Feed; view: View; setView: (v: View) => void;
  filterText: string; setFilterText: (t: string) => void; anchors: string[]; setAnchors: (keys: string[]) => void;
  hover: string | null; setHover: (key: string | null) => void; camera: CameraLink; classes: string[];
  /** the run's training phases, marked on the timeline */
  phases?: Phase[];
  /** the view the page address asked for (colour, overlay, edges), and where to report changes */
  initial?: ExplorerUrlState;
  onState?: (state: ExplorerUrlState) => void;
  /** what plugins' views on the map (mount explorer-layer) are told; they may also draw a path and pick a point */
  views?: Omit<ViewProps, "view">;
}) {
  // the map's code (deck.gl) downloads while the run's listing and first file do, not after them
  useEffect(() => { void loadScatter(); }, []);
  const { methods, method, dims, dimsAvailable, epochs, epoch } = resolveView(catalogue, view);
  const name = epoch === null ? null : projectionFile(catalogue, method, dims, epoch);
  const { doc, error } = useShownDoc(runId, name);

  const [colourBy, setColourBy] = useState<ColourBy>((initial.colour as ColourBy | undefined) ?? "label");
  const [hidden, setHidden] = useState<Set<string>>(new Set());
  const [edgeScope, setEdgeScope] = useState<EdgeScope>((initial.edges as EdgeScope | undefined) ?? "focused");
  const [edgeMode, setEdgeMode] = useState<EdgeMode>((initial.mode as EdgeMode | undefined) ?? "extent_gated");
  const [radiusChoice, setRadiusChoice] = useState<number | null>(initial.radius ?? null); // null: chosen from the map
  const [allEdges, setAllEdges] = useState(false);
  const [overlay, setOverlay] = useState<OverlayKind>((initial.overlay as OverlayKind | undefined) ?? "none");
  const [overlayOpacity, setOverlayOpacity] = useState(0.85);
  const [lasso, setLasso] = useState(false);
  const [resetToken, setResetToken] = useState(0);
  const [playing, setPlaying] = useState(false);
  const [drawn, setDrawn] = useState<MapPath | null>(null); // a view's path on the map
  const [picker, setPicker] = useState<{ fn: (key: string | null) => void } | null>(null); // a view waits for a click

  const docEpoch = doc?.epoch ?? null;
  const neighboursOnDisk = neighboursFile(catalogue, method, docEpoch) !== null;
  // the kNN file waits until the first map is drawn (unless a point is focused or hovered): page load and the first
  // frame do not share the connection and the main thread with it
  const [settled, setSettled] = useState(false);
  useEffect(() => {
    if (!doc || settled) return;
    const timer = setTimeout(() => setSettled(true), 400);
    return () => clearTimeout(timer);
  }, [doc, settled]);
  const wantNeighbours = neighboursOnDisk && ((settled && edgeScope !== "off") || anchors.length > 0 || hover !== null);
  const neighbours = useRunJson<NeighboursDoc>(runId, wantNeighbours ? neighboursFile(catalogue, method, docEpoch) : null)?.doc ?? null;
  const neighboursFit = neighbours && doc && neighbours.n === doc.n ? neighbours : null;
  const autoRadius = useMemo(() => (neighboursFit ? defaultRadiusFactor(neighboursFit, doc?.coords ?? null, dims) : 1), [neighboursFit, doc, dims]);
  const radiusFactor = radiusChoice ?? autoRadius;
  const inputs = useRunJson<SheetDoc>(runId, catalogue.inputThumbnails)?.doc ?? null;
  const reconstructions = useRunJson<SheetDoc>(runId, docEpoch !== null ? catalogue.reconstructionThumbnails.get(docEpoch) ?? null : null)?.doc ?? null;
  const overlayFiles = useMemo(() => [...catalogue.overlays.values()], [catalogue.overlays]);
  const kinds = useMemo(() => overlayKinds(overlayFiles), [overlayFiles]);
  const here = useMemo(() => new Map(overlayFiles.filter((e) => e.method === method && e.epoch === docEpoch).map((e) => [e.kind, e.name])),
    [overlayFiles, method, docEpoch]);
  const overlayName = dims === 2 && overlay !== "none" ? here.get(overlay) ?? null : null;
  const overlayOnDisk = overlayName !== null;
  const grid = useRunJson<GridDoc>(runId, overlayOnDisk ? overlayName : null)?.doc ?? null;

  const scaling = useMemo(() => (doc ? scalingOf(doc.method, doc.dims, doc.bounds) : null), [doc]);
  const positions = useMemo(() => (doc && scaling ? toWorld(doc.coords, doc.dims, scaling) : new Float32Array(0)), [doc, scaling]);
  // key -> point: built only while a key is asked for (a focus, a hover), not at each epoch switch
  const needKeys = anchors.length > 0 || hover !== null;
  const keyToPosition = useMemo(() => (needKeys ? keyIndex(doc) : new Map<string, number>()), [doc, needKeys]);
  const anchorPositions = useMemo(() => anchors.map((k) => keyToPosition.get(k)).filter((i): i is number => i !== undefined), [anchors, keyToPosition]);
  const focus = useMemo(() => (anchorPositions.length ? focusOf(anchorPositions, neighboursFit) : null), [anchorPositions, neighboursFit]);
  const filter = useMemo(() => parseFilter(filterText), [filterText]);
  const matched = useMemo(() => (doc ? matchFilter(filter, filterablePoints(doc, reconstructions)) : null), [doc, reconstructions, filter]);
  const highlight = useMemo(() => (matched ? Uint32Array.from([...matched].sort((a, b) => a - b)) : null), [matched]);
  const [fitToken, setFitToken] = useState(0);
  const fitTo = useMemo(() => (fitToken > 0 && highlight && highlight.length ? { token: fitToken, indices: highlight } : null),
    // eslint-disable-next-line react-hooks/exhaustive-deps -- only a click moves the camera
    [fitToken]);
  const hoverPosition = hover !== null ? keyToPosition.get(hover) ?? null : null;
  const choices = colourChoices(doc, reconstructions);
  const by = choices.some((c) => c.value === colourBy) ? colourBy : "label";

  const shownOverlay = dims === 2 && here.has(overlay) ? overlay : "none";

  const { mapping } = useMapping();
  const dark = useDarkTheme();
  const colours = useMemo(() => (doc ? colourBuffer(doc, { by, sheet: reconstructions, hidden, focus: focus?.members ?? null, filter: matched, mapping }) : new Uint8Array(0)),
    [doc, by, reconstructions, hidden, focus, matched, mapping]);

  const changes = useChanges({ runId, catalogue, epochs, doc, scaling, positions, colours, initial });
  const sprites = useSprites({ runId, inputs, doc, positions, initial: initial.digits });
  const changesState = changes.on ? changes.trailBase : "off";
  useEffect(() => {
    onState?.({ colour: by, overlay: shownOverlay, edges: edgeScope, mode: edgeMode, radius: radiusChoice ?? undefined,
      changes: changesState, changeColour: changes.colourByChange ? "on" : "off", digits: sprites.mode });
  }, [onState, by, shownOverlay, edgeScope, edgeMode, radiusChoice, changesState, changes.colourByChange, sprites.mode]);

  const edges = useMemo<EdgeIndex | null>(() => {
    if (!neighboursFit || edgeScope === "off") return null;
    const from = edgeScope === "all" ? null : [...new Set([...(focus?.anchors ?? []), ...(hoverPosition !== null ? [hoverPosition] : [])])];
    if (from !== null && from.length === 0) return null;
    // many focused points: each one's nearest few neighbours, unless the person asked for all
    const thinned = from !== null && from.length > MANY_FOCUSED && !allEdges;
    const set = edgesOf(neighboursFit, doc?.coords ?? null, dims, edgeMode, from, radiusFactor, thinned ? PER_POINT : null);
    const base = edgeScope === "all" ? crowdAwareOpacity(set.count, 900 * 620) : 0.85;
    const rgba = new Uint8Array(set.count * 4);
    let visible = 0;
    for (let e = 0; e < set.count; e++) {
      rgba.set(dark ? EDGE_RGB_DARK : EDGE_RGB, 4 * e);
      rgba[4 * e + 3] = Math.round(255 * base * set.opacity[e]);
      if (rgba[4 * e + 3] >= 77) visible++;
    }
    const hidden = thinned ? from.length * neighboursFit.k - set.count : 0;
    return { source: set.source, target: set.target, colours: rgba, count: set.count, visible, hidden };
  }, [neighboursFit, doc?.coords, edgeScope, focus, hoverPosition, dims, edgeMode, radiusFactor, dark, allEdges]);

  const overlayImage = useMemo<OverlayImage | null>(() => {
    if (!grid || !scaling || dims !== 2 || overlay === "none") return null;
    const [[x0, x1], [y0, y1]] = grid.bounds;
    const w = (v: number, a: number) => (v - scaling.centre[a]) * scaling.scale;
    return { key: `${overlayName}`, image: gridCanvas(grid), bounds: [w(x0, 0), w(y0, 1), w(x1, 0), w(y1, 1)], opacity: overlayOpacity };
  }, [grid, scaling, dims, overlay, overlayName, overlayOpacity]);

  const rings = useMemo(() => [
    ...(focus && focus.anchors.length <= 12 ? focus.anchors : []).map((index) => ({ index, colour: (dark ? [123, 156, 255, 255] : [49, 87, 213, 255]) as [number, number, number, number] })),
    ...(hoverPosition !== null ? [{ index: hoverPosition, colour: (dark ? [240, 240, 240, 255] : [17, 17, 17, 255]) as [number, number, number, number] }] : []),
  ], [focus, hoverPosition, dark]);

  const pick = useCallback((i: number | null) => {
    if (!doc) return;
    if (picker) { // a view asked for a point (pickPoint): the click is its answer, the focus stays
      picker.fn(i === null ? null : pointKey(doc, i));
      setPicker(null);
      return;
    }
    setAnchors(i === null ? [] : [pointKey(doc, i)]);
  }, [doc, setAnchors, picker]);
  const viewPath = useMemo(() => pathOn(drawn, doc, scaling), [drawn, doc, scaling]);
  const layerProps = useMemo(() => (views?.explorer ? { ...views, explorer: { ...views.explorer,
    drawPath: (path: MapPath | null) => setDrawn(path), pickPoint: (fn: ((key: string | null) => void) | null) => setPicker(fn ? { fn } : null) } } : null),
  [views]);
  const onHover = useCallback((i: number | null) => setHover(i === null || !doc ? null : pointKey(doc, i)), [doc, setHover]);
  const onLasso = useCallback((picked: number[]) => {
    if (!doc) return;
    setAnchors(picked.map((i) => pointKey(doc, i)));
    setLasso(false);
  }, [doc, setAnchors]);
  const onPick = useCallback((e: number) => {
    void loadJson(runId, projectionFile(catalogue, method, dims, e)).catch(() => undefined); // start fetching before React renders
    setView({ method, dims, epoch: e });
  }, [setView, method, dims, runId, catalogue]);
  // the next epoch's file is fetched and parsed ahead, so play and stepping forward do not wait for it
  const nextEpoch = docEpoch !== null ? epochs[epochs.indexOf(docEpoch) + 1] : undefined;
  useEffect(() => {
    if (nextEpoch === undefined) return;
    const timer = setTimeout(() => { void loadJson(runId, projectionFile(catalogue, method, dims, nextEpoch)).catch(() => undefined); }, 300);
    return () => clearTimeout(timer);
  }, [runId, method, dims, nextEpoch, catalogue]);
  const onFollow = useCallback((on: boolean) => setView({ method, dims, epoch: on ? null : epoch }), [setView, method, dims, epoch]);

  if (methods.length === 0 || epoch === null) return null;
  const shownCard = hoverPosition ?? focus?.anchors[0] ?? null;
  const filterProblem = filter.error ?? (doc ? unavailableKey(filter, filterablePoints(doc, reconstructions)) : null);
  const exportFocus = (format: "json" | "csv") => {
    if (!focus || !doc) return;
    const rows = focusRows(focus, doc, reconstructions);
    const base = `focus_${runId}_${method}_${dims}d_epoch_${doc.epoch}`;
    if (format === "csv") download(`${base}.csv`, focusCsv(rows, dims), "text/csv");
    else download(`${base}.json`, focusJson(rows, { run_id: runId, method, dims, epoch: doc.epoch, latent: doc.latent }), "application/json");
  };

  return (
    <>
      <div className={ui.toolbar}>
        <div><span className={ui.fieldLabel}>projection</span>
          <div className={ui.seg} role="group" aria-label="projection" data-testid="map-method">
            {methods.map((m) => <button key={m} type="button" aria-pressed={m === method} data-value={m}
              onClick={() => setView({ method: m, dims, epoch: view.epoch })}>{m.toUpperCase()}</button>)}
          </div></div>
        <div><span className={ui.fieldLabel}>dimensions</span>
          <div className={ui.seg} role="group" aria-label="dimensions" data-testid="map-dims">
            {[2, 3].map((d) => <button key={d} type="button" aria-pressed={d === dims} disabled={!dimsAvailable.includes(d)} data-value={d}
              title={dimsAvailable.includes(d) ? undefined : `no ${d}-D ${method} files in this run`}
              onClick={() => setView({ method, dims: d, epoch: view.epoch })}>{d}-D</button>)}
          </div></div>
        <label>colour by<select value={by} onChange={(e) => { setColourBy(e.target.value as ColourBy); setHidden(new Set()); }} data-testid="map-colour">
          {choices.map((c) => <option key={c.value} value={c.value}>{c.label}</option>)}
        </select></label>
        <div><span className={ui.fieldLabel}>camera</span>
          <div className={ui.seg} role="group" aria-label="tool">
            <button type="button" aria-pressed={!lasso} onClick={() => setLasso(false)} data-testid="tool-move">{dims > 2 ? "orbit" : "pan"}</button>
            <button type="button" aria-pressed={lasso} disabled={dims !== 2} onClick={() => setLasso(true)} data-testid="tool-lasso"
              title={dims === 2 ? "draw around points to focus them" : "lasso works in 2-D"}>lasso</button>
            <button type="button" onClick={() => setResetToken((t) => t + 1)} data-testid="camera-reset">reset</button>
          </div></div>
        <label style={{ flex: "1 1 12rem" }}>search / filter<input type="text" value={filterText} placeholder="label:4 pred:9 · comp:2 · #123"
          onChange={(e) => setFilterText(e.target.value)} data-testid="map-filter" /></label>
      </div>
      <div className={ui.toolbar}>
        <label>kNN edges<select value={edgeScope} onChange={(e) => setEdgeScope(e.target.value as EdgeScope)} data-testid="map-edges" disabled={!neighboursOnDisk}>
          <option value="off">off</option><option value="focused">of the focused / hovered points</option><option value="all">all (slow with many points)</option>
        </select></label>
        <label>edge mode<select value={edgeMode} onChange={(e) => setEdgeMode(e.target.value as EdgeMode)} data-testid="map-edge-mode" disabled={edgeScope === "off"}>
          <option value="extent_gated">gated by extent (fuzzy)</option><option value="top_k">always top-k</option>
        </select></label>
        {edgeMode === "extent_gated" && edgeScope !== "off" ? (
          <label title="multiplies every point's extent radius (the file's radius grows with the latent distance d_k); it starts where three in four of this map's neighbour edges are within it">
            radius ×{radiusFactor.toFixed(2)} {radiusChoice === null ? <span style={{ textTransform: "none", fontWeight: 400 }}>(chosen from this map)</span>
              : <button type="button" className="linkish" style={{ textTransform: "none", fontSize: "0.74rem" }} onClick={() => setRadiusChoice(null)} data-testid="map-radius-auto">auto</button>}
            <input type="range" min={RADIUS_RANGE[0]} max={RADIUS_RANGE[1]} step={0.05} value={radiusFactor} onChange={(e) => setRadiusChoice(Number(e.target.value))}
              data-testid="map-radius" data-auto={autoRadius} style={{ display: "block" }} />
          </label>
        ) : null}
        <label>overlay (2-D)<select value={overlay} onChange={(e) => setOverlay(e.target.value as OverlayKind)} data-testid="map-overlay" disabled={dims !== 2}>
          <option value="none">none</option>
          {[...new Set(kinds.values())].map((generator) => (
            <optgroup key={generator} label={generator}>
              {[...kinds].filter(([, g]) => g === generator).map(([k]) => (
                <option key={k} value={k} disabled={!here.has(k)}>{overlayLabel(k)} ({generator}){here.has(k) ? "" : " · not computed"}</option>
              ))}
            </optgroup>
          ))}
        </select></label>
        <SpritesToggle sprites={sprites} />
        {overlayImage ? (
          <label>opacity<input type="range" min={0.1} max={1} step={0.05} value={overlayOpacity} onChange={(e) => setOverlayOpacity(Number(e.target.value))} data-testid="map-overlay-opacity" style={{ display: "block" }} /></label>
        ) : null}
      </div>
      {filterProblem ? <p className="small" style={{ color: "var(--bad)", margin: "-0.3rem 0 0.5rem" }} data-testid="filter-error">{filterProblem}</p> : null}
      {!filterProblem && matched && doc ? (
        <p className="small" style={{ margin: "-0.3rem 0 0.5rem" }} data-testid="filter-matches" data-count={matched.size}>
          <b>{matched.size === 0 ? "No point" : `${matched.size} of ${doc.n} points`}</b> match{matched.size === 0 ? "es" : ""}{" "}
          <span className="muted">{describeFilter(filter)}</span>
          {matched.size > 0 ? <>{" · "}<button type="button" className="linkish" onClick={() => setFitToken((t) => t + 1)} data-testid="filter-zoom">zoom to matches</button>
            {" · "}<button type="button" className="linkish" onClick={() => setResetToken((t) => t + 1)}>show all</button></> : null}
          {matched.size > 0 ? <span className="muted"> (ringed and drawn on top)</span> : null}
        </p>
      ) : null}
      {edges && ((edges.hidden ?? 0) > 0 || allEdges) && anchorPositions.length > MANY_FOCUSED ? (
        <p className="small muted" style={{ margin: "-0.3rem 0 0.5rem" }} data-testid="edges-thinned">
          {allEdges ? <>All {edges.count} neighbour edges of the {anchorPositions.length} focused points.{" "}
            <button type="button" className="linkish" onClick={() => setAllEdges(false)}>nearest {PER_POINT} only</button></>
            : <>Edges: each of the {anchorPositions.length} focused points to its {PER_POINT} nearest neighbours ({edges.count} drawn, {edges.hidden} hidden).{" "}
              <button type="button" className="linkish" onClick={() => setAllEdges(true)} data-testid="edges-show-all">show all</button></>}
        </p>
      ) : null}
      {overlay !== "none" && dims === 2 && !overlayOnDisk ? (kinds.has(overlay) ? (
        <p className="note" data-testid="overlay-missing">No {overlayLabel(overlay)} for {method} at epoch {docEpoch}: grids are written after each epoch by the
          {" "}<code>{kinds.get(overlay)}</code> generator (or <code>latentdeck backfill {runId} --artifacts {kinds.get(overlay)}</code>).</p>
      ) : (
        <p className="note" data-testid="overlay-missing">This run has no overlay named “{overlay}” (an old link, or a plugin that is not
          installed). {kinds.size ? <>Its overlays: {[...kinds.keys()].map(overlayLabel).join(", ")}; pick one above.</> : "It has no overlays."}</p>
      )) : null}
      {error && !doc ? <p className="callout error" role="alert">{error}. Reload the page, or rebuild the file with <code>latentdeck backfill {runId}</code>.</p> : null}
      <div className={s.layout}>
        <div className={s.mapColumn}>
        <div className={s.mapWrap}>
          {doc && scaling ? (
            <ScatterCanvas id="main" testId="latent-canvas" label={`${method} ${dims}-D map of ${doc.n} points at epoch ${doc.epoch}`}
              dims={doc.dims} positions={positions} colours={changes.colours ?? colours} trails={changes.trails} sprites={sprites.sheet} radiusPx={pointRadiusPx(doc.n, doc.dims)} scaling={scaling}
              fitKey={`${doc.method}:${doc.dims}`} resetToken={resetToken} camera={camera} rings={rings} edges={edges}
              highlight={highlight} fitTo={fitTo} dark={dark}
              overlay={overlayImage} path={viewPath} transitionMs={TRANSITION_MS} lasso={lasso}
              onHover={onHover} onClick={pick} onLasso={onLasso} />
          ) : <div className={s.canvasBox} />}
          <span className={s.mapBadge} data-testid="map-badge" data-epoch={doc?.epoch ?? ""} data-method={doc?.method ?? ""} data-dims={doc?.dims ?? ""}
            data-colour={by} data-overlay={overlayImage ? overlay : "none"} data-edges-drawn={edges?.count ?? 0} data-edges-visible={edges?.visible ?? 0} data-focus={focus?.members.size ?? 0}>
            {method.toUpperCase()} {dims}-D · epoch {doc?.epoch ?? "–"} · {doc?.n ?? 0} points{matched ? ` · ${matched.size} match` : ""}
          </span>
          {doc ? <ChangesToggle changes={changes} /> : null}
          {doc ? <span className={s.mapNote}>{doc.latent === "z" ? "latent z" : doc.latent} ({doc.latent_dim}-D) → {method} {dims}-D</span> : null}
        </div>
        <Timeline epochs={epochs} shown={doc?.epoch ?? epoch} follow={view.epoch === null} playing={playing} feed={feed}
          onPick={onPick} onFollow={onFollow} onPlay={setPlaying} phases={phases} />
        {doc ? <CrossFilter doc={doc} reconstructions={reconstructions} matched={matched} focus={focus?.members ?? null} classes={classes} filterText={filterText} setFilterText={setFilterText} /> : null}
        </div>
        <div className={s.side}>
          <ChangesPanel changes={changes} runId={runId} />
          {doc && !changes.colours ? <Legend doc={doc} by={by} sheet={reconstructions} hidden={hidden} classes={classes}
            onToggle={(v) => setHidden((h) => { const next = new Set(h); if (next.has(v)) next.delete(v); else next.add(v); return next; })} /> : null}
          {doc ? <HoverCard runId={runId} doc={doc} i={shownCard} inputs={inputs} reconstructions={reconstructions} pinned={hoverPosition === null} classes={classes} /> : null}
          <FocusBox focus={focus} onExport={exportFocus} onClear={() => setAnchors([])} neighboursMissing={!!focus && !neighboursOnDisk} />
          {doc ? <Trust doc={doc} epochs={epochs} /> : null}
          {overlayImage && grid ? <OverlayLegend kind={overlay} grid={grid} /> : null}
          <HowTo method={method} dims={dims} />
        </div>
      </div>
      {layerProps ? <ViewSlot mount="explorer-layer" props={layerProps} /> : null}
    </>
  );
}
