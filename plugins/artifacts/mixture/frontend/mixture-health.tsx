// Mixture health (GM-VAE): how the model uses its K components, epoch by epoch, from
// mixture/mixture_health_epoch_<N>.json. The verdict, its sentence and the advice come from the file's
// `health` object (the backend decides the thresholds); a file written before it existed shows its raw
// numbers. Clicking a component highlights its points on the map and asks for prior samples from it.
// A view of the mixture plugin (ViewSpec "mixture-health", mount explorer-side), loaded by the UI at run time:
// React and the view kit are the page's own (see SPEC.md "Views").
import { useEffect, useState } from "react";
import { fmt, LineChart, loadJson, ui, useFilesByEpoch } from "@latentdeck/view-kit";
import { componentColour, componentLegend, cssRgb, useMapping, viridis } from "@latentdeck/view-kit/explorer";
import type { ViewProps } from "@latentdeck/view-kit";
import { PriorMeansStrip } from "./PriorMeansStrip";
import s from "./mixture.module.css";


export interface MixtureHealth {
  epoch: number;
  n: number;
  components: number;
  p: number[];
  neff: number;
  pmax: number;
  argmax_counts: number[];
  argmax_neff: number;
  entropy: number;
  health?: {
    status: "healthy" | "uneven" | "collapsed" | "uninformative" | "pretraining";
    summary: string;
    advice: string[];
    dead_components: number[];
    kld_c_collapse_value?: number;
  };
}

const STATUS_CLASS: Record<string, string> = {
  healthy: "status-completed", uneven: "status-cancelled", uninformative: "status-cancelled", collapsed: "status-failed",
};

function useHealthFiles(runId: string, names: ReadonlyMap<number, string>): MixtureHealth[] {
  const [files, setFiles] = useState<MixtureHealth[]>([]);
  useEffect(() => {
    let current = true;
    Promise.all([...names.values()].map((name) => loadJson<MixtureHealth>(runId, name).catch(() => null))).then((docs) => {
      if (current) setFiles(docs.filter((d): d is MixtureHealth => d !== null).sort((a, b) => a.epoch - b.epoch));
    });
    return () => { current = false; };
  }, [runId, names]);
  return files;
}

function UsageOverEpochs({ files, k }: { files: MixtureHealth[]; k: number }) {
  const cw = Math.max(6, Math.min(44, 420 / Math.max(files.length, 1))), ch = Math.max(9, Math.min(16, 160 / k)), left = 30;
  return (
    <figure style={{ margin: "0.8rem 0 0" }} data-testid="mixture-usage">
      <figcaption className="small"><b>usage p per component, epoch by epoch</b></figcaption>
      <svg width={left + cw * files.length + 4} height={ch * k + 18} role="img" aria-label="component usage by epoch">
        {Array.from({ length: k }, (_, c) => (
          <text key={c} x={left - 4} y={c * ch + ch * 0.75} textAnchor="end" fontSize="9" fill="currentColor">c{c}</text>
        ))}
        {files.map((f, e) => f.p.map((p, c) => (
          <rect key={`${e}-${c}`} x={left + e * cw} y={c * ch} width={cw - 1} height={ch - 1}
            fill={cssRgb(viridis(Math.min(1, (p * k) / 2)))}><title>{`epoch ${f.epoch}, c${c}: p = ${fmt(p)}`}</title></rect>
        )))}
        {files.map((f, e) => (files.length <= 12 || e % Math.ceil(files.length / 12) === 0 ? (
          <text key={`x${e}`} x={left + e * cw + cw / 2} y={ch * k + 12} textAnchor="middle" fontSize="9" fill="currentColor">{f.epoch}</text>
        ) : null))}
      </svg>
      <div className="muted small">dark: unused · teal: an even share (1/K) · yellow: twice that or more</div>
    </figure>
  );
}

/** The view: the run's health files, the explorer's epoch; a click on a component filters the map to it
 * ("comp:<c>") and publishes "component" {component} (the samples panel draws its prior samples). */
export default function MixtureHealthView({ run, epoch: shownEpoch, files: rows, explorer }: ViewProps) {
  const runId = run.id, phases = run.phases, classes = run.classes;
  const healthFiles = useFilesByEpoch(rows, { artifact: "mixture_health" });
  const priorMeans = useFilesByEpoch(rows, { artifact: "component_prototypes", ext: ".json" });
  const priorMeansPng = useFilesByEpoch(rows, { artifact: "component_prototypes", ext: ".png" });
  const picked = /^comp:(\d+)$/.exec((explorer?.filter ?? "").trim());
  const selected = picked ? Number(picked[1]) : null;
  const onComponent = (c: number) => {
    explorer?.setFilter(`comp:${c}`);
    explorer?.publish("component", { component: c });
  };
  const files = useHealthFiles(runId, healthFiles);
  const { mapping, note } = useMapping();
  if (healthFiles.size === 0) return null;
  const current = files.find((f) => f.epoch === shownEpoch) ?? files[files.length - 1];
  if (!current) return <section className="panel" data-testid="mixture-panel"><h2>Mixture health</h2><p className="muted">Loading…</p></section>;
  const k = current.components;
  const top = Math.max(...current.p, 2 / k); // the axis: at least twice an even share, so even use sits at half height
  const dead = new Set(current.health?.dead_components ?? []);
  const health = current.health;
  return (
    <section className="panel" data-testid="mixture-panel" data-status={health?.status ?? "unknown"}>
      <h2>Mixture health <span className="muted small">epoch {current.epoch} · {current.n} digits · K = {k}</span></h2>
      {health ? (
        <div className={`callout ${health.status === "healthy" || health.status === "pretraining" ? "" : health.status === "collapsed" ? "error" : "warn"}`} data-testid="mixture-health">
          <div className={s.healthHead}>
            <span className={`badge ${STATUS_CLASS[health.status] ?? ""}`} data-testid="mixture-status">{health.status}</span>
            <span data-testid="mixture-summary">{health.summary}</span>
          </div>
          {health.advice.length ? (
            <div><b>What to try</b><ul style={{ margin: "0.2rem 0 0", paddingLeft: "1.2rem" }}>{health.advice.map((a) => <li key={a}>{a}</li>)}</ul></div>
          ) : null}
        </div>
      ) : (
        <div className="callout" data-testid="mixture-health-raw">
          This file was written before latentdeck assessed mixture health, so here are its raw numbers:
          {" "}neff <b>{fmt(current.neff)}</b> of K = {k} (soft usage), argmax_neff <b>{fmt(current.argmax_neff)}</b> (hard usage),
          {" "}pmax <b>{fmt(current.pmax)}</b>. Both neff values are K when every component is used evenly and 1 when one component takes everything.
        </div>
      )}
      <PriorMeansStrip runId={runId} files={priorMeans} pngs={priorMeansPng} epoch={current.epoch} phases={phases} classes={classes} />
      <div className={s.mixGrid}>
        <div>
          <div className="small"><b>p = mean q(c|x) at epoch {current.epoch}</b> <span className="muted">· click a component to highlight its digits and sample from it</span></div>
          <div className={s.bars} data-testid="mixture-bars" style={{ position: "relative" }}>
            <div className={s.evenLine} style={{ bottom: `${100 / (k * top)}%` }} title="an even share, 1/K"><span>1/K</span></div>
            {current.p.map((p, c) => (
              <button key={c} type="button" className={`${s.bar} ${dead.has(c) ? s.barDead : ""} ${selected === c ? s.barOn : ""}`}
                onClick={() => onComponent(c)} data-testid={`mixture-bar-${c}`} aria-pressed={selected === c}
                title={`${componentLegend(mapping, c, classes)}: p = ${fmt(p)}, ${current.argmax_counts[c]} digits by argmax${dead.has(c) ? " — dead" : ""}`}>
                <span style={{ height: `${(100 * p) / top}%`, background: cssRgb(componentColour(mapping, c)) }} />
              </button>
            ))}
          </div>
          <div className={s.barAxis} data-testid="mixture-bar-names">{current.p.map((_, c) => {
            const to = mapping?.digitOf.get(c);
            return <span key={c} title={componentLegend(mapping, c, classes)}>c{c}{mapping ? <><br />{to !== undefined ? `→ ${classes[to] ?? to}` : "–"}</> : null}</span>;
          })}</div>
          <div className={s.barAxis} title="digits assigned by argmax q(c|x)">{current.argmax_counts.map((n, c) => <span key={c}>{n}</span>)}</div>
          <div className="muted small" data-testid="mixture-colours-note">{note}</div>
          <div className="muted small">dashed line: an even share 1/K · dashed outline: a dead component (the file&apos;s assessment) · second row: digits by argmax q(c|x)</div>
          <UsageOverEpochs files={files} k={k} />
        </div>
        <div>
          <LineChart title={`effective components (1 = collapse, ${k} = even use)`} maxEpoch={files[files.length - 1]?.epoch ?? 1} testId="mixture-neff"
            yDomain={[1, k]} phases={phases} selectedEpoch={current.epoch} series={[
            { label: "neff (soft)", points: files.map((f) => ({ x: f.epoch, y: f.neff })) },
            { label: "argmax_neff (hard)", points: files.map((f) => ({ x: f.epoch, y: f.argmax_neff })) },
          ]} />
          <LineChart title={`pmax, the largest share (1/${k} = even, 1 = one takes all)`} maxEpoch={files[files.length - 1]?.epoch ?? 1}
            testId="mixture-pmax" yDomain={[0, 1]} phases={phases} selectedEpoch={current.epoch} series={[
            { label: "pmax", points: files.map((f) => ({ x: f.epoch, y: f.pmax })) },
          ]} />
        </div>
      </div>
      <details className={ui.howto}>
        <summary>How to read this: what collapse looks like</summary>
        <p>A GM-VAE should spread the digits over its K components. p is the average share each component gets (soft, from q(c|x));
          neff = exp(entropy of p) counts how many components are effectively used (K = all evenly, 1 = one takes everything).
          argmax_neff does the same with hard assignments: it drops when q(c|x) is spread thinly but every digit still picks the same winner.</p>
        <p>Collapse: a few bars take almost all of p and the others stay near zero epoch after epoch (dark rows above); on the map, colouring by component shows one or two colours.
          A collapsed model can still reconstruct well — it just stops clustering.</p>
      </details>
    </section>
  );
}
