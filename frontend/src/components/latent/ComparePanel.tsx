"use client";
// Compare: two epochs of this run, or the same epoch of another run (e.g. the AE and the GM-VAE on one
// dataset), side by side with linked cameras (pan / zoom / orbit one, the other follows) and linked hover
// (the hovered digit is ringed on both maps). Points are matched by their dataset index and split.
import dynamic from "next/dynamic";
import { useEffect, useMemo, useState } from "react";
import { api } from "@/lib/api";
import type { RunSummary } from "@/lib/api";
import { emptyCatalogue, projectionFile, resolveView } from "@/lib/latent/catalogue";
import type { Catalogue } from "@/lib/latent/catalogue";
import { useCatalogue, useRunJson } from "@/lib/latent/files";
import { useComponentMapping, useMapping } from "@/lib/latent/componentMapping";
import type { ComponentMapping } from "@/lib/latent/matching";
import { runLabel } from "@/lib/runName";
import { componentName } from "@/lib/latent/matching";
import { colourBuffer, keyIndex, pointKey, pointKeys } from "@/lib/latent/points";
import type { ProjectionDoc } from "@/lib/latent/points";
import { pointRadiusPx, scalingOf, toWorld } from "@/lib/latent/scaling";
import { CameraLink } from "./camera";
import s from "./Explorer.module.css";
import ui from "@/viewkit/ui.module.css";

const ScatterCanvas = dynamic(() => import("./ScatterCanvas"), { ssr: false, loading: () => <div className={s.canvasBox} /> });
const NONE = new Set<string>();

type CompareColour = "label" | "component" | "predicted";

function Side({ runId, pageRunId, title, doc, hover, setHover, camera, id, classes, by, otherMapping }: {
  runId: string; pageRunId: string; title: string; doc: ProjectionDoc | null; hover: string | null; setHover: (k: string | null) => void;
  camera: CameraLink; id: string; classes: string[]; by: CompareColour;
  /** another run's own component mapping (matched from its own cluster file) */
  otherMapping: ComponentMapping | null;
}) {
  const scaling = useMemo(() => (doc ? scalingOf(doc.method, doc.dims, doc.bounds) : null), [doc]);
  const positions = useMemo(() => (doc && scaling ? toWorld(doc.coords, doc.dims, scaling) : new Float32Array(0)), [doc, scaling]);
  // each run's components take their own matched digits' colours (this run's from the page, another run's from its cluster file)
  const { mapping: pageMapping } = useMapping();
  const mapping = runId === pageRunId ? pageMapping : otherMapping;
  const shownBy: CompareColour = doc && (by === "label" || (by === "component" ? doc.component : doc.predicted)) ? by : "label";
  const colours = useMemo(() => (doc ? colourBuffer(doc, { by: shownBy, sheet: null, hidden: NONE, focus: null, filter: null, mapping }) : new Uint8Array(0)), [doc, mapping, shownBy]);
  const keys = useMemo(() => keyIndex(doc), [doc]);
  const at = hover !== null ? keys.get(hover) ?? null : null;
  const rings = useMemo(() => (at !== null ? [{ index: at, colour: [17, 17, 17, 255] as [number, number, number, number] }] : []), [at]);
  return (
    <div data-testid={`${id}-side`}>
      <div className="small" style={{ marginBottom: "0.3rem" }} data-testid={`${id}-title`} data-colour={shownBy}><b>{title}</b>
        {shownBy !== by ? <span className="muted"> · coloured by label (this map has no {by === "component" ? "components" : "predictions"})</span> : null}</div>
      {doc && scaling ? (
        <ScatterCanvas id={id} testId={id} dims={doc.dims} positions={positions} colours={colours}
          radiusPx={pointRadiusPx(doc.n, doc.dims)} scaling={scaling} fitKey={`${doc.method}:${doc.dims}`} resetToken={0} fit="extent"
          camera={camera} rings={rings} transitionMs={400} label={`${title}: ${doc.method} ${doc.dims}-D`}
          onHover={(i) => setHover(i === null ? null : pointKey(doc, i))} />
      ) : <div className={s.canvasBox}><p className="muted" style={{ padding: "1rem" }}>{runId ? "Loading…" : "Pick a run."}</p></div>}
      <div className="small" data-testid={`${id}-hover`} style={{ minHeight: "1.4rem", marginTop: "0.25rem" }}>
        {hover === null ? <span className="muted">Hover a point on either map.</span> : at === null
          ? <span className="muted">#{hover.split(":")[1]} is not in this run&apos;s subset.</span>
          : <>#{doc!.indices[at]} · label <b>{classes[doc!.labels[at]] ?? doc!.labels[at]}</b>
            {doc!.predicted ? <> · predicted <b>{doc!.predicted[at]}</b></> : null}
            {doc!.component ? <> · component <b data-testid={`${id}-component`}>{componentName(mapping, doc!.component[at], classes)}</b></> : null}</>}
      </div>
    </div>
  );
}

/** Another run's side: its components matched to digits from its own newest cluster file (keyed by run, so
 * the matching is chosen afresh for each run picked). */
function OtherRunSide(props: Omit<Parameters<typeof Side>[0], "otherMapping"> & { scores: Catalogue; listed: boolean }) {
  const { scores, listed, ...rest } = props;
  const mapping = useComponentMapping(rest.runId, scores, listed).mapping;
  return <Side {...rest} otherMapping={mapping} />;
}

function useOtherRuns(runId: string, dataset: string, open: boolean): RunSummary[] {
  const [runs, setRuns] = useState<RunSummary[]>([]);
  useEffect(() => {
    if (!open) return;
    api.listRuns().then((rows) => setRuns(rows.filter((r) => r.run_id !== runId && r.dataset === dataset)), () => setRuns([]));
  }, [runId, dataset, open]);
  return runs;
}

export function ComparePanel({ runId, catalogue, method, dims, epoch, dataset, classes }: {
  runId: string; catalogue: Catalogue; method: string; dims: number; epoch: number | null; dataset: string; classes: string[];
}) {
  const [open, setOpen] = useState(false);
  const [mode, setMode] = useState<"epochs" | "runs">("epochs");
  const epochs = resolveView(catalogue, { method, dims, epoch: null }).epochs;
  const [left, setLeft] = useState<number | null>(null);
  const [right, setRight] = useState<number | null>(null);
  const [other, setOther] = useState<string>("");
  const [hover, setHover] = useState<string | null>(null);
  const camera = useMemo(() => new CameraLink(), []);
  const others = useOtherRuns(runId, dataset, open && mode === "runs");
  const otherLoaded = useCatalogue(open && mode === "runs" && other ? other : null, "completed");
  const otherCatalogue = otherLoaded.catalogue;
  const [by, setBy] = useState<CompareColour>("label");

  const a = left !== null && epochs.includes(left) ? left : epochs[0] ?? null;
  const b = right !== null && epochs.includes(right) ? right : epoch ?? epochs[epochs.length - 1] ?? null;
  const otherView = resolveView(otherCatalogue, { method, dims, epoch: b });
  const otherRow = others.find((r) => r.run_id === other);
  const otherName = otherRow ? `${runLabel(otherRow)} (${otherRow.model})` : other;
  const otherMatches = other !== "" && otherView.method === method && otherView.dims === dims;
  const leftName = open && a !== null ? projectionFile(catalogue, method, dims, mode === "epochs" ? a : b ?? a) : null;
  const rightName = open ? (mode === "epochs" ? (b !== null ? projectionFile(catalogue, method, dims, b) : null)
    : otherMatches && otherView.epoch !== null ? projectionFile(otherCatalogue, method, dims, otherView.epoch) : null) : null;
  const leftDoc = useRunJson<ProjectionDoc>(runId, leftName)?.doc ?? null;
  const rightDoc = useRunJson<ProjectionDoc>(mode === "epochs" ? runId : other, rightName)?.doc ?? null;
  const shared = useMemo(() => {
    if (!leftDoc || !rightDoc) return 0;
    const left = new Set(pointKeys(leftDoc));
    return pointKeys(rightDoc).filter((k) => left.has(k)).length;
  }, [leftDoc, rightDoc]);

  return (
    <section className="panel" data-testid="compare-panel">
      <h2 style={{ display: "flex", justifyContent: "space-between", alignItems: "center" }}>
        Compare
        <button type="button" className="btn small" onClick={() => setOpen(!open)} data-testid="compare-toggle" aria-expanded={open}>
          {open ? "close" : "open side by side"}
        </button>
      </h2>
      {!open ? <p className="note">Two epochs of this run, or the same epoch of another run on {dataset}, side by side: pan, zoom or orbit one map and the other follows; hover a digit to find it on both.</p> : (
        <>
          <div className={ui.toolbar}>
            <div><span className={ui.fieldLabel}>compare</span>
              <div className={ui.seg} role="group" data-testid="compare-mode">
                <button type="button" aria-pressed={mode === "epochs"} onClick={() => setMode("epochs")} data-value="epochs">two epochs</button>
                <button type="button" aria-pressed={mode === "runs"} onClick={() => setMode("runs")} data-value="runs">another run</button>
              </div></div>
            {mode === "epochs" ? (
              <>
                <label>left epoch<select value={a ?? ""} onChange={(e) => setLeft(Number(e.target.value))} data-testid="compare-left-epoch">
                  {epochs.map((e) => <option key={e} value={e}>{e}</option>)}</select></label>
                <label>right epoch<select value={b ?? ""} onChange={(e) => setRight(Number(e.target.value))} data-testid="compare-right-epoch">
                  {epochs.map((e) => <option key={e} value={e}>{e}</option>)}</select></label>
              </>
            ) : (
              <label>other run (same dataset)<select value={other} onChange={(e) => setOther(e.target.value)} data-testid="compare-run">
                <option value="">choose…</option>
                {others.map((r) => <option key={r.run_id} value={r.run_id}>{runLabel(r)} · {r.model} · {r.epochs_completed} epochs</option>)}
              </select></label>
            )}
            <label>colour by<select value={by} onChange={(e) => setBy(e.target.value as CompareColour)} data-testid="compare-colour">
              <option value="label">label (true digit)</option>
              <option value="component">component (each run matched to digits)</option>
              <option value="predicted">prediction</option></select></label>
            <span className="note">{method.toUpperCase()} {dims}-D (the map&apos;s choice above)</span>
          </div>
          {mode === "runs" && other && !otherMatches ? <p className="note">That run has no {method} {dims}-D projection.</p> : null}
          <div className={s.compare}>
            <Side runId={runId} pageRunId={runId} id="compare-left" doc={leftDoc} hover={hover} setHover={setHover} camera={camera} classes={classes} by={by} otherMapping={null}
              title={`this run · epoch ${mode === "epochs" ? a : b ?? a}`} />
            <OtherRunSide key={mode === "epochs" ? runId : other} scores={mode === "epochs" ? emptyCatalogue() : otherCatalogue} listed={mode === "epochs" || otherLoaded.loaded}
              runId={mode === "epochs" ? runId : other} pageRunId={runId} id="compare-right" doc={rightDoc} hover={hover} setHover={setHover}
              camera={camera} classes={classes} by={by} title={mode === "epochs" ? `this run · epoch ${b}` : other ? `${otherName} · epoch ${otherView.epoch ?? "–"}` : "another run"} />
          </div>
          {leftDoc && rightDoc ? <p className="note" data-testid="compare-shared">{shared} of {rightDoc.n} digits are in both subsets (matched by dataset index); each map is scaled to its own extent.</p> : null}
        </>
      )}
    </section>
  );
}
