"use client";
// The explorer's side panel: legend with toggles, the hovered point's digits, the focused set and its
// export, the projection's trustworthiness, the overlay's legend and short "how to read this" notes.
import * as React from "react";
import { row } from "@/lib/artifacts";
import { api } from "@/lib/api";
import { categoryColour, cssRgb, gradientCss, TRAINED_COLOURS, viridis } from "@/lib/latent/colour";
import { useMapping } from "@/lib/latent/componentMapping";
import type { FocusSet } from "@/lib/latent/focus";
import { byMatchedDigit, componentColour, componentLegend, componentName } from "@/lib/latent/matching";
import { pcaVarianceText } from "@/lib/latent/pcaBasis";
import { confidenceOf, splitOf } from "@/lib/latent/points";
import type { ColourBy, ProjectionDoc, SheetDoc } from "@/lib/latent/points";
import { fmt, legendGradient, overlayLabel, overlayText, ratioRangeLog2 } from "@/lib/overlays";
import type { GridDoc, OverlayKind } from "@/lib/overlays";
import s from "./Explorer.module.css";
import ui from "@/viewkit/ui.module.css";

const SPLIT_TEXT = { heldout: "held out (never trained on)", trained: "trained on", train_unused: "training split, not trained on (outside limit)" };

export function Legend({ doc, by, sheet, hidden, onToggle, classes }: {
  doc: ProjectionDoc; by: ColourBy; sheet: SheetDoc | null; hidden: ReadonlySet<string>; onToggle: (value: string) => void;
  classes: string[];
}) {
  const { mapping: matched, note, newer, rematch } = useMapping();
  if (by === "confidence") {
    const c = confidenceOf(doc, sheet, 0);
    return (
      <div data-testid="legend">
        <h3>confidence: {c?.source}</h3>
        <div className={s.gradient} style={{ background: gradientCss(viridis) }} />
        <div className={s.scaleRow}><span>{c ? fmt(c.floor) : "–"} (a uniform guess)</span><span>1 (certain)</span></div>
      </div>
    );
  }
  const mapping = by === "component" ? matched : null;
  let values: string[];
  if (by === "split") values = ["heldout", "trained", "train_unused"].filter((v) => doc.indices.some((_, i) => splitOf(doc, i) === v));
  else {
    const column = by === "label" ? doc.labels : by === "predicted" ? doc.predicted : doc.component;
    const sorted = [...new Set(column ?? [])].sort((a, b) => a - b);
    values = (by === "component" ? byMatchedDigit(mapping, sorted) : sorted).map(String);
  }
  const title = by === "label" ? "label (true digit)" : by === "predicted" ? "prediction" : by === "component" ? "component (argmax q(c|x))" : "trained on?";
  return (
    <div data-testid="legend">
      <h3>{title} <span className="muted" style={{ textTransform: "none", fontWeight: 400 }}>· click to hide</span></h3>
      <div className={s.legend}>
        {values.map((v) => {
          const colour = by === "split" ? TRAINED_COLOURS[v as keyof typeof TRAINED_COLOURS]
            : by === "component" ? componentColour(mapping, Number(v)) : categoryColour(Number(v));
          const name = by === "split" ? SPLIT_TEXT[v as keyof typeof SPLIT_TEXT] : by === "component" ? componentLegend(mapping, Number(v), classes) : classes[Number(v)] ?? v;
          return (
            <button key={v} type="button" aria-pressed={!hidden.has(v)} onClick={() => onToggle(v)} data-testid={`legend-${v}`}>
              <i className={s.swatch} style={{ background: cssRgb(colour), boxShadow: "0 0 0 1px var(--border)" }} />{name}
            </button>
          );
        })}
      </div>
      {by === "component" ? (
        <div className={s.note} data-testid="legend-matching" data-matched={mapping ? mapping.epoch : ""}>{note}
          {newer !== null ? <> · <button type="button" className="linkish" onClick={rematch} data-testid="legend-rematch">match again at epoch {newer}</button></> : null}
        </div>
      ) : null}
    </div>
  );
}

/** Sheets drawn when first asked for (``png_on_demand``), by run and request: asked once per page, whatever hovers. */
const asked = new Map<string, Promise<string>>();

function askSheet(runId: string, ask: NonNullable<SheetDoc["png_on_demand"]>): Promise<string> {
  const key = `${runId} ${ask.computation} ${JSON.stringify(ask.request)}`;
  let pending = asked.get(key);
  if (!pending) {
    pending = api.compute(runId, ask.computation, ask.request).then(() => ask.png);
    pending.catch(() => asked.delete(key));  // a refusal or a failure may be asked again on the next hover
    asked.set(key, pending);
  }
  return pending;
}

/** The sheet's PNG: its own, or the one its ``png_on_demand`` request draws (asked for on first use). */
function useSheetPng(runId: string, sheet: SheetDoc | null): { png: string | null; note: string | null } {
  const ask = sheet && !sheet.png ? sheet.png_on_demand ?? null : null;
  const [state, setState] = React.useState<{ key: string; png: string | null; note: string | null } | null>(null);
  const key = ask ? `${runId} ${JSON.stringify(ask.request)}` : "";
  React.useEffect(() => {
    if (!ask) return;
    let live = true;
    askSheet(runId, ask).then(
      (png) => { if (live) setState({ key, png, note: null }); },
      (error: unknown) => { if (live) setState({ key, png: null, note: `reconstructions not drawn: ${error instanceof Error ? error.message : String(error)}` }); });
    return () => { live = false; };
  }, [runId, key]); // eslint-disable-line react-hooks/exhaustive-deps
  if (!sheet) return { png: null, note: null };
  if (sheet.png) return { png: sheet.png, note: null };
  if (!ask) return { png: null, note: null };
  return state?.key === key ? { png: state.png, note: state.note } : { png: null, note: "drawing this epoch's reconstructions…" };
}

export function Thumb({ runId, sheet, i, title, size = 84, caption }: { runId: string; sheet: SheetDoc | null; i: number; title: string; size?: number; caption?: React.ReactNode }) {
  const { png, note } = useSheetPng(runId, sheet);
  if (!sheet || i >= sheet.n || !png) {
    return <figure><div className={s.thumb} style={{ width: size, height: size }} data-testid={note ? `thumb-${title}-pending` : undefined} /><figcaption>{note ?? caption ?? `${title}: none`}</figcaption></figure>;
  }
  const [h, w] = sheet.tile;
  const sx = size / w, sy = size / h;
  const col = i % sheet.columns, row = Math.floor(i / sheet.columns);
  return (
    <figure>
      <div className={s.thumb} role="img" aria-label={title} data-testid={`thumb-${title}`} data-tile={i}
        style={{ width: size, height: size, backgroundImage: `url(${api.artifactUrl(runId, png)})`,
          backgroundSize: `${sheet.columns * w * sx}px ${sheet.rows * h * sy}px`,
          backgroundPosition: `${-col * w * sx}px ${-row * h * sy}px` }} />
      <figcaption>{caption ?? title}</figcaption>
    </figure>
  );
}

export function HoverCard({ runId, doc, i, inputs, reconstructions, pinned, classes }: {
  runId: string; doc: ProjectionDoc; i: number | null; inputs: SheetDoc | null; reconstructions: SheetDoc | null; pinned: boolean; classes: string[];
}) {
  const { mapping } = useMapping();
  if (i === null || i >= doc.n) {
    return <div className={s.hover} data-testid="hover-card"><span className="muted">Hover a point to see its digit and reconstruction; click to focus it.</span></div>;
  }
  const qc = reconstructions?.qc && i < reconstructions.qc.rows ? Array.from(row(reconstructions.qc, i)) : null;
  const conf = confidenceOf(doc, reconstructions, i);
  const split = splitOf(doc, i);
  return (
    <div className={s.hover} data-testid="hover-card" data-index={doc.indices[i]}>
      <b>#{doc.indices[i]}</b> <span className="muted">{pinned ? "(focused)" : ""} {doc.split ? `· ${SPLIT_TEXT[split]}` : "· held-out example"}</span>
      <div className={s.thumbs}>
        <Thumb runId={runId} sheet={inputs} i={i} title="input" />
        <Thumb runId={runId} sheet={reconstructions} i={i} title={`reconstruction epoch ${reconstructions?.epoch ?? "–"}`} />
      </div>
      {!inputs ? <p className="note">No thumbnails: this run has no input thumbnails (<code>latentdeck backfill {runId}</code> writes the missing files).</p> : null}
      <dl className={s.kv}>
        <dt>label</dt><dd data-testid="hover-label">{classes[doc.labels[i]] ?? doc.labels[i]}</dd>
        {doc.predicted ? <><dt>prediction</dt><dd>{doc.predicted[i]}{doc.predicted[i] !== doc.labels[i] ? <b className={ui.warn}> ≠ label</b> : null}</dd></> : null}
        {doc.component ? <><dt>component</dt><dd data-testid="hover-component">{componentName(mapping, doc.component[i], classes)}</dd></> : null}
        {conf ? <><dt>{conf.source}</dt><dd>{fmt(conf.value)}</dd></> : null}
        {reconstructions?.mse ? <><dt>reconstruction error</dt><dd>{fmt(reconstructions.mse[i])} <span className="muted">(MSE per pixel)</span></dd></> : null}
      </dl>
      {qc ? (
        <div title="q(c|x): how the encoder spreads this digit over the model's components">
          <div className="muted small" style={{ marginTop: "0.3rem" }}>q(c|x)</div>
          <div className={s.qc} data-testid="hover-qc" style={{ gridTemplateColumns: `repeat(${qc.length}, 1fr)` }}>
            {qc.map((p, c) => <div key={c} style={{ height: `${Math.max(p * 100, 2)}%`, background: cssRgb(componentColour(mapping, c)) }} title={`${componentName(mapping, c, classes)}: ${fmt(p)}`} />)}
          </div>
          <div className={s.qc} style={{ height: "auto", gridTemplateColumns: `repeat(${qc.length}, 1fr)` }}>{qc.map((_, c) => <span key={c} className="muted" style={{ fontSize: "0.68rem", textAlign: "center" }}>c{c}</span>)}</div>
        </div>
      ) : null}
    </div>
  );
}

export function FocusBox({ focus, onExport, onClear, neighboursMissing }: {
  focus: FocusSet | null; onExport: (format: "json" | "csv") => void; onClear: () => void; neighboursMissing: boolean;
}) {
  if (!focus) {
    return <p className="note" data-testid="focus-box">Click a point, or lasso a group (2-D), to isolate it with its latent neighbours.</p>;
  }
  return (
    <div data-testid="focus-box" data-count={focus.members.size}>
      <h3>focused set</h3>
      <div><b data-testid="focus-count">{focus.members.size}</b> points: {focus.anchors.length} chosen + {focus.members.size - focus.anchors.length} of their latent neighbours</div>
      {neighboursMissing ? <p className="note">This epoch has no kNN file, so neighbours are not added.</p> : null}
      <div style={{ display: "flex", gap: "0.4rem", marginTop: "0.35rem", flexWrap: "wrap" }}>
        <button type="button" className="btn small" onClick={() => onExport("csv")} data-testid="export-csv">Export CSV</button>
        <button type="button" className="btn small" onClick={() => onExport("json")} data-testid="export-json">Export JSON</button>
        <button type="button" className="btn ghost small" onClick={onClear} data-testid="focus-clear">clear</button>
      </div>
    </div>
  );
}

export function Trust({ doc, epochs = [] }: { doc: ProjectionDoc; epochs?: number[] }) {
  const t = doc.trustworthiness;
  const pcaAxes = pcaVarianceText(doc, epochs);
  return (
    <div data-testid="trust">
      <h3>how faithful is this map?</h3>
      {t?.value !== null && t?.value !== undefined ? (
        <div>trustworthiness <b data-testid="trust-value">{t.value.toFixed(3)}</b> <span className="muted">(k = {t.k})</span>:
          {" "}1 means points that look like neighbours here are neighbours in latent space; lower means the map shows neighbourhoods the model does not have.</div>
      ) : <div className="muted">No trustworthiness in this file.</div>}
      {pcaAxes ? <div className="muted" data-testid="pca-basis">{pcaAxes}</div> : null}
    </div>
  );
}

/** The legend of the overlay shown: its file's own label and reading (SPEC.md "Explorer roles"), the scale it
 * is drawn on, its stats and how it was computed. Nothing here knows which generator wrote it. */
export function OverlayLegend({ kind, grid }: { kind: OverlayKind; grid: GridDoc }) {
  const { scale, label, reading, ends, notes, tv } = overlayText(grid, kind);
  const tvRow = Object.keys(tv).length ? (
    <div className="small" data-testid="overlay-tv" title="total-variation distance between the two grids on this map: half the summed |difference| × cell area; 0 = the same distribution, 1 = no overlap">
      total variation in this map: {Object.entries(tv).map(([other, v], i) => (
        <span key={other}>{i ? " · " : ""}to {overlayLabel(other)} <b data-testid={`overlay-tv-${other}`}>{v.toFixed(3)}</b></span>
      ))} <span className="muted">(0 = same, 1 = no overlap)</span>
    </div>
  ) : null;
  const noteRows = notes.map((note, i) => <div key={i} className="note" data-testid="overlay-note">{note}</div>);
  const size = `${grid.grid.nx}×${grid.grid.ny} grid${grid.points_bounds ? " over the whole first view, fading out past it" : ""} · ${grid.meta.subset_n} points · ${fmt(grid.meta.compute_ms)} ms`;
  if (scale === "ratio") {
    const range = ratioRangeLog2(grid.stats);
    const median = grid.stats.median ?? 1;
    return (
      <div data-testid="overlay-legend" data-style="ratio">
        <h3>{label}</h3>
        <div className="note">{reading}</div>
        <div className={s.gradient} style={{ background: legendGradient("ratio") }} />
        <div className={s.scaleRow}><span>{fmt(median / 2 ** range)} {ends[0]}</span><span>median {fmt(median)}</span><span>{fmt(median * 2 ** range)} {ends[1]}</span></div>
        <div className="mono small" data-testid="overlay-stats">min {fmt(grid.stats.min)} · median {fmt(grid.stats.median)} · max {fmt(grid.stats.max)}{grid.k !== undefined ? ` · k ${grid.k}` : ""}</div>
        <div className="note">The colours span this file&apos;s own range (×{fmt(2 ** range)} around the median).</div>
        {tvRow}{noteRows}
        <div className="note">{size}</div>
      </div>
    );
  }
  if (scale === "signed") {
    const maxAbs = grid.stats.max_abs ?? null;
    return (
      <div data-testid="overlay-legend" data-style="signed">
        <h3>{label}</h3>
        <div className="note">{reading}</div>
        <div className={s.gradient} style={{ background: legendGradient("signed") }} />
        <div className={s.scaleRow}><span>−{fmt(maxAbs)} {ends[0]}</span><span>0 (transparent)</span><span>+{fmt(maxAbs)} {ends[1]}</span></div>
        {tvRow}{noteRows}
        <div className="note">√ scale of |value|: green above zero, grey below, nothing drawn at zero. {size}</div>
      </div>
    );
  }
  const mass = grid.stats.mass_in_bounds;
  return (
    <div data-testid="overlay-legend" data-style="sequential">
      <h3>{label}</h3>
      <div className="note">{reading} Square-root scale so thin regions stay visible; one light green, drawn under the points, so no digit&apos;s colour is mistaken for the overlay.</div>
      <div className={s.gradient} style={{ background: legendGradient("sequential") }} />
      <div className={s.scaleRow}><span>0 = transparent</span><span>√ scale</span><span>{fmt(grid.stats.max)}</span></div>
      <div className="mono small" data-testid="overlay-stats">max {fmt(grid.stats.max)}{typeof mass === "number" ? ` · mass on the map ${fmt(100 * mass)} %` : ""}</div>
      {typeof mass === "number" && mass < 0.5 ? (
        <div className="note" data-testid="overlay-mass-note"><b>Only {(100 * mass).toFixed(1)} % of this distribution lies on the map:</b> it spreads far wider than the points, so the colour here is nearly flat — not &quot;dense everywhere&quot;.</div>
      ) : null}
      {tvRow}{noteRows}
      <div className="note">{size}</div>
    </div>
  );
}

export function HowTo({ method, dims }: { method: string; dims: number }) {
  return (
    <details className={ui.howto} data-testid="howto-map">
      <summary>How to read this map</summary>
      {method === "pca" ? (
        <p>PCA is a rotation of the latent space onto its {dims} directions of largest variance: distances along these axes are true, but digits that differ only in the dropped directions land on top of each other.</p>
      ) : method === "umap" ? (
        <p>UMAP keeps each point&apos;s nearest latent neighbours close. It does not keep the distances between groups of points or their sizes: two groups far apart on the map are not necessarily far apart in latent space.</p>
      ) : <p>{method} is a projection plugin; see its README for what it preserves.</p>}
      <p>An edge joins a point to one of its k nearest neighbours <b>in the latent space</b>, not on this map. Long edges are neighbours the projection pulled apart. In &quot;gated&quot; mode an edge fades once it is longer than its point&apos;s extent radius (larger where the point&apos;s neighbours are far in latent space).</p>
      {dims > 2 ? <p>3-D: drag to orbit, shift-drag or right-drag to pan, scroll to zoom.</p> : <p>Drag to pan, scroll to zoom; pick the lasso to select a group.</p>}
    </details>
  );
}

