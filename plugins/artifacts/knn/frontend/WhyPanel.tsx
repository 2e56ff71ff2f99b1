// "Why is this digit here?" for the one focused point: its latent neighbours as thumbnails (from the kNN
// file and the input atlas), what they share with it in one sentence, the model's own reading (the
// classifier's probabilities or q(c|x)), its nearest training digits (an on-demand computation the server
// keeps on disk), and a walk to its class or component centre drawn on the map.
import { useState } from "react";
import { ApiError, fmt } from "@latentdeck/view-kit";
import { categoryColour, componentColour, componentName, cssRgb, Thumb, useMapping } from "@latentdeck/view-kit/explorer";
import type { Compute } from "@latentdeck/view-kit";
import type { SheetDoc, NeighboursDoc, ProjectionDoc } from "@latentdeck/view-kit/explorer";
import { modelAnswer, neighbourRows, whereItSits } from "./why";
import type { NeighbourRow } from "./why";
import { NearestTraining } from "./NearestTraining";
import s from "./neighbours.module.css";

/** an on-demand walk's answer (its payload), handed to the view that draws walks */
type WalkPayload = Record<string, unknown>;

export function WhyPanel({ runId, doc, i, knn, inputs, recon, classes, onFocus, onWalk, compute }: {
  runId: string; doc: ProjectionDoc; i: number; knn: NeighboursDoc | null; inputs: SheetDoc | null; recon: SheetDoc | null;
  classes: string[]; onFocus: (position: number) => void; onWalk: (walk: WalkPayload | null) => void; compute: Compute;
}) {
  const { mapping } = useMapping();
  const name = (c: number) => classes[c] ?? String(c);
  const rows = neighbourRows(knn, doc, i);
  const answer = modelAnswer(recon, i, doc.labels[i], name, (c) => componentName(mapping, c, classes), doc.predicted?.[i] ?? null);
  return (
    <section className={s.why} data-testid="why-panel" data-index={doc.indices[i]}>
      <h3 style={{ fontSize: "0.95rem", margin: "0 0 0.3rem" }}>Why is #{doc.indices[i]} here?</h3>
      {rows ? (
        <>
          <p className="small" style={{ margin: "0 0 0.4rem" }} data-testid="why-verdict">{whereItSits(doc.labels[i], rows, name)}</p>
          <div className={s.whyGrid} data-testid="why-neighbours">
            {rows.map((r) => <NeighbourTile key={r.position} runId={runId} row={r} inputs={inputs} name={name} onFocus={onFocus}
              own={doc.labels[i]} component={r.component !== null ? componentName(mapping, r.component, classes) : null} />)}
          </div>
          <p className="small muted" style={{ margin: "0.2rem 0 0.5rem" }}>Its {rows.length} nearest neighbours in latent space at epoch {doc.epoch}{" "}
            (d = the model&apos;s own latent distance, not the distance on this map), nearest first; click one to focus it.</p>
        </>
      ) : <p className="note">This epoch has no kNN file for {doc.method}, so the neighbours cannot be listed (<code>latentdeck backfill {runId} --artifacts knn</code>).</p>}
      {answer ? (
        <div data-testid="why-model" data-kind={answer.kind} data-best={answer.best}>
          <p className="small" style={{ margin: "0 0 0.2rem" }}>{answer.text}</p>
          {answer.probabilities.length ? <div className={s.whyBars}>
            {answer.probabilities.map((p, c) => (
              <div key={c} title={`${answer.kind === "classifier" ? name(c) : componentName(mapping, c, classes)}: ${fmt(p)}`}>
                <span style={{ height: `${Math.max(p * 100, 1.5)}%`, background: cssRgb(answer.kind === "classifier" ? categoryColour(c) : componentColour(mapping, c)) }} />
                <i>{answer.kind === "classifier" ? name(c) : `c${c}`}</i>
              </div>
            ))}
          </div> : null}
          {answer.probabilities.length ? <p className="small muted" style={{ margin: "0.1rem 0 0.4rem" }}>{answer.kind === "classifier"
            ? "The classifier's probability of each digit for this example (softmax of its logits)."
            : "q(c|x): how the encoder spreads this example over the mixture components."}</p> : null}
        </div>
      ) : null}
      <NearestTraining runId={runId} doc={doc} i={i} name={name} compute={compute} />
      <CentreWalk doc={doc} i={i} name={name} hasComponents={!!doc.component} onWalk={onWalk} compute={compute} />
    </section>
  );
}

function NeighbourTile({ runId, row, inputs, name, own, component, onFocus }: {
  runId: string; row: NeighbourRow; inputs: SheetDoc | null; name: (c: number) => string; own: number;
  component: string | null; onFocus: (position: number) => void;
}) {
  const other = row.label !== own;
  return (
    <button type="button" className={s.whyTile} onClick={() => onFocus(row.position)} data-testid="why-neighbour"
      data-index={row.index} data-split={row.split} title={`#${row.index} (${row.split === "train" ? "training" : "held-out"}): latent distance ${fmt(row.distance)}`}>
      <Thumb runId={runId} sheet={inputs} i={row.position} title={`#${row.index}`} size={48} caption="" />
      <span><i className={s.swatch} style={{ background: cssRgb(categoryColour(row.label)), marginRight: 3 }} />
        <b className={other ? s.warn : undefined}>{name(row.label)}</b>
        {row.predicted !== null ? <> · pred {name(row.predicted)}</> : null}</span>
      {component ? <span className="muted">{component}</span> : null}
      <span className="muted">d {fmt(row.distance)}{row.split === "train" ? " · train" : ""}</span>
    </button>
  );
}

/** Walk from the point to the centre of its class (or of its component) and draw the path on the map. */
function CentreWalk({ doc, i, name, hasComponents, onWalk, compute }: {
  compute: Compute; doc: ProjectionDoc; i: number; name: (c: number) => string; hasComponents: boolean;
  onWalk: (walk: WalkPayload | null) => void;
}) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (doc.dims !== 2) return <p className="note">Switch to 2-D to walk to the class centre (the path is drawn on the 2-D map).</p>;
  const go = (centre: "class" | "component") => {
    setBusy(centre);
    setError(null);
    compute("walk", { from_idx: doc.indices[i], from_split: (doc.split?.[i] ?? "heldout") as "heldout" | "train", method: doc.method,
      epoch: doc.epoch, mode: "centre", centre, steps: 9, to_split: "heldout" }).then(
      (r) => { onWalk(r.payload as unknown as WalkPayload); setBusy(null); },
      (e: unknown) => { setError(e instanceof ApiError ? `${e.status}: ${e.detail}` : String(e)); setBusy(null); });
  };
  return (
    <div style={{ display: "flex", gap: "0.5rem", alignItems: "center", flexWrap: "wrap" }}>
      <button type="button" className="btn small" disabled={busy !== null} onClick={() => go("class")} data-testid="why-walk-class">
        {busy === "class" ? "decoding…" : `Walk to the centre of the ${name(doc.labels[i])}s`}</button>
      {hasComponents ? <button type="button" className="btn small" disabled={busy !== null} onClick={() => go("component")} data-testid="why-walk-component">
        {busy === "component" ? "decoding…" : "Walk to its component's centre"}</button> : null}
      <span className="note">decodes the straight path in latent space and draws it on the map (strip below)</span>
      {error ? <span className="small" style={{ color: "var(--bad)" }} role="alert">{error}</span> : null}
    </div>
  );
}
