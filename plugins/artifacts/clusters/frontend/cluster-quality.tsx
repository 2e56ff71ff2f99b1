// Cluster quality at the shown epoch, from clusters/cluster_quality_epoch_<N>.json: for a mixture, the
// accuracy under the best one-to-one matching of components to digits, the NMI and the components × digits
// confusion matrix; for a classifier, the held-out confusion matrix (true × predicted). Every non-empty
// cell is a button: a click focuses exactly that cell's digits on the map (the file's `cells` hold their
// positions in the projection files' point order). The numbers are the file's; nothing is computed here.
// A view of the clusters plugin (ViewSpec "cluster-quality", mount explorer-side), loaded by the UI at run time.
import { useState } from "react";
import { Empty, useFilesByEpoch, useRunJson } from "@latentdeck/view-kit";
import { byMatchedDigit, componentColour, cssRgb, mappingOf, percent, pointKey, useMapping } from "@latentdeck/view-kit/explorer";
import type { ViewProps } from "@latentdeck/view-kit";
import type { ClusterScores, ComponentMatch, ProjectionDoc } from "@latentdeck/view-kit/explorer";
import s from "./cluster-quality.module.css";

/** The file's `mixture` section: how the components agree with the digits. */
interface MixtureScores {
  components: number;
  accuracy: number;
  nmi: number;
  matching: ComponentMatch[];
  confusion: number[][]; // (K, C): rows components, columns digits
  cells: number[][][]; // (K, C, *): positions in the projection files' point order
  labels_note: string;
  unmatched_note?: string;
  phase_note?: string; // at a pretraining epoch: the components are not in use yet
}

interface ClassifierScores {
  split: string;
  n: number;
  accuracy: number | null; // null: no held-out digit to score
  confusion: number[][]; // (C, C): rows true digit, columns predicted
  cells: number[][][];
}

/** clusters/cluster_quality_epoch_<N>.json: the explorer's cluster-scores role (`component_matching`), and
 * this plugin's scores. */
interface ClusterQuality extends ClusterScores {
  n: number;
  classes: number;
  class_names: string[];
  source: string;
  mixture_accuracy?: number;
  mixture_nmi?: number;
  classifier_accuracy?: number;
  mixture: MixtureScores | null;
  classifier: ClassifierScores | null;
  unlabelled_note?: string;
  phase_note?: string; // at a pretraining epoch: the scores describe an untrained prior
}

export default function ClusterQualityView({ run, epoch, files, explorer }: ViewProps) {
  const qualities = useFilesByEpoch(files, { artifact: "cluster_quality" });
  if (!explorer?.method) return null;
  return <ClusterPanel runId={run.id} qualities={qualities} shownEpoch={epoch} classes={run.classes} projection={explorer.projection}
    anchors={explorer.focus} setAnchors={explorer.setFocus} />;
}

interface Picked { block: "mixture" | "classifier"; row: number; col: number; keys: string[]; text: string }

interface Axis { key: number; label: string; swatch?: string; title?: string }

function cellStyle(count: number, rowTotal: number) {
  const share = rowTotal > 0 ? count / rowTotal : 0;
  return { background: count ? `rgba(49, 87, 213, ${(0.08 + 0.82 * share).toFixed(3)})` : "transparent", color: share > 0.5 ? "#fff" : undefined };
}

function ConfusionMatrix({ testId, rows, cols, counts, cells, corner, isMatched, picked, onPick, describe, clickable }: {
  testId: string; rows: Axis[]; cols: Axis[]; counts: number[][]; cells: number[][][]; corner: string;
  isMatched: (r: number, c: number) => boolean; picked: { row: number; col: number } | null;
  onPick: (r: number, c: number) => void; describe: (r: number, c: number, n: number) => string; clickable: boolean;
}) {
  return (
    <div className={s.matrixWrap}>
      <table className={s.matrix} data-testid={testId}>
        <thead><tr><th className={s.axis}>{corner}</th>{cols.map((c) => <th key={c.key} title={c.title}>{c.label}</th>)}</tr></thead>
        <tbody>
          {rows.map((r) => {
            const total = (counts[r.key] ?? []).reduce((a, b) => a + b, 0);
            return (
              <tr key={r.key}>
                <th title={r.title}>{r.swatch ? <i className={s.swatch} style={{ background: r.swatch }} /> : null}{r.label}</th>
                {cols.map((c) => {
                  const n = counts[r.key]?.[c.key] ?? 0;
                  const on = picked?.row === r.key && picked.col === c.key;
                  return (
                    <td key={c.key}>
                      <button type="button" className={`${s.cell} ${isMatched(r.key, c.key) ? s.matched : ""} ${on ? s.on : ""}`}
                        style={cellStyle(n, total)} disabled={n === 0 || !clickable || !(cells[r.key]?.[c.key]?.length)}
                        aria-pressed={on} data-testid={`${testId}-${r.key}-${c.key}`} data-count={n}
                        title={`${describe(r.key, c.key, n)}${n ? " — click to focus them on the map" : ""}`}
                        onClick={() => onPick(r.key, c.key)}>{n || ""}</button>
                    </td>
                  );
                })}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function MixtureBlock({ mixture, epoch, classes, picked, pick, clickable }: {
  mixture: MixtureScores; epoch: number; classes: string[]; picked: Picked | null; clickable: boolean;
  pick: (block: Picked["block"], row: number, col: number, positions: number[], text: string) => void;
}) {
  const { mapping: colours } = useMapping();
  const own = mappingOf({ epoch, component_matching: mixture.matching });
  const order = byMatchedDigit(own, mixture.matching.map((m) => m.component));
  const digit = (d: number) => classes[d] ?? String(d);
  const rows: Axis[] = order.map((c) => {
    const m = mixture.matching.find((x) => x.component === c);
    const to = own?.digitOf.get(c);
    return {
      key: c, label: to !== undefined ? `c${c} → ${digit(to)}` : `c${c} (unmatched)`, swatch: cssRgb(componentColour(colours, c)),
      title: `${m?.count ?? 0} digits${m?.purity != null ? `, purity ${percent(m.purity)}` : ""}${to === undefined ? " (unmatched)" : ""}; swatch: its colour on the map`,
    };
  });
  const cols: Axis[] = classes.map((name, d) => ({ key: d, label: name }));
  return (
    <div data-testid="cluster-mixture">
      <h3>components × digits <span className="muted small">(rows ordered by epoch {epoch}&apos;s matched digit; dashed: the matched pairs
        {colours ? `; dots: each component's colour on the map, matched at epoch ${colours.epoch}` : ""})</span></h3>
      <ConfusionMatrix testId="cluster-mixture-matrix" rows={rows} cols={cols} counts={mixture.confusion} cells={mixture.cells}
        corner={"comp \\ digit"} clickable={clickable} isMatched={(r, c) => own?.digitOf.get(r) === c}
        picked={picked?.block === "mixture" ? picked : null}
        describe={(r, c, n) => `${n} digit${n === 1 ? "" : "s"} labelled ${digit(c)} in component c${r}`}
        onPick={(r, c) => pick("mixture", r, c, mixture.cells[r][c], `the ${mixture.confusion[r][c]} digits labelled ${digit(c)} that component c${r} holds`)} />
      {mixture.unmatched_note ? <p className="note" data-testid="cluster-unmatched-note">{mixture.unmatched_note}</p> : null}
    </div>
  );
}

function ClassifierBlock({ classifier, classes, picked, pick, clickable }: {
  classifier: ClassifierScores; classes: string[]; picked: Picked | null; clickable: boolean;
  pick: (block: Picked["block"], row: number, col: number, positions: number[], text: string) => void;
}) {
  const digit = (d: number) => classes[d] ?? String(d);
  const axis: Axis[] = classes.map((name, d) => ({ key: d, label: name }));
  return (
    <div data-testid="cluster-classifier">
      <h3>true digit × prediction <span className="muted small">({classifier.n} {classifier.split === "heldout" ? "held-out" : classifier.split} digits: the classifier never trained on them; dashed: correct)</span></h3>
      <ConfusionMatrix testId="cluster-classifier-matrix" rows={axis.map((a) => ({ ...a, label: `true ${a.label}` }))} cols={axis}
        counts={classifier.confusion} cells={classifier.cells} corner={"true \\ predicted"} clickable={clickable}
        isMatched={(r, c) => r === c} picked={picked?.block === "classifier" ? picked : null}
        describe={(r, c, n) => (r === c ? `${n} digits labelled ${digit(r)}, predicted correctly` : `${n} digits labelled ${digit(r)} that the classifier predicts as ${digit(c)}`)}
        onPick={(r, c) => pick("classifier", r, c, classifier.cells[r][c], r === c
          ? `the ${classifier.confusion[r][c]} digits labelled ${digit(r)} that the classifier gets right`
          : `the ${classifier.confusion[r][c]} digits labelled ${digit(r)} that the classifier predicts as ${digit(c)}`)} />
    </div>
  );
}

function ClusterPanel({ runId, qualities, shownEpoch, projection, anchors, setAnchors, classes }: {
  runId: string; qualities: ReadonlyMap<number, string>; shownEpoch: number | null; projection: string | null;
  anchors: readonly string[]; setAnchors: (keys: string[]) => void; classes: string[];
}) {
  const epochs = [...qualities.keys()];
  const epoch = shownEpoch !== null && qualities.has(shownEpoch) ? shownEpoch : null;
  const quality = useRunJson<ClusterQuality>(runId, epoch !== null ? qualities.get(epoch)! : null);
  const doc = useRunJson<ProjectionDoc>(runId, projection)?.doc ?? null;
  const [pickedState, setPicked] = useState<Picked | null>(null);
  const picked = pickedState && pickedState.keys === anchors ? pickedState : null; // a click on the map ends it

  const head = <h2>Cluster quality {epoch !== null ? <span className="muted small">epoch {epoch}</span> : null}</h2>;
  if (epochs.length === 0) {
    return (
      <section className="panel" data-testid="cluster-panel" data-state="missing">{head}
        <Empty title="This run has no cluster-quality files.">They are written after each epoch by the clusters generator
          {" "}(for an older run: <code>latentdeck backfill {runId}</code>).</Empty>
      </section>
    );
  }
  if (epoch === null) {
    return (
      <section className="panel" data-testid="cluster-panel" data-state="missing">{head}
        <p className="muted">No cluster-quality file at epoch {shownEpoch ?? "–"}; epochs with one: {epochs.join(", ")}.</p>
      </section>
    );
  }
  const q = quality?.doc ?? null;
  if (!q) {
    return <section className="panel" data-testid="cluster-panel" data-state="loading">{head}
      <p className="muted">{quality?.error ?? "Loading…"}</p></section>;
  }
  const names = q.class_names?.length ? q.class_names : classes;
  const clickable = doc !== null && doc.n === q.n;
  const pick = (block: Picked["block"], row: number, col: number, positions: number[], text: string) => {
    if (!doc) return;
    if (picked && picked.block === block && picked.row === row && picked.col === col) {
      setAnchors([]);
      return;
    }
    const keys = positions.filter((i) => i >= 0 && i < doc.n).map((i) => pointKey(doc, i));
    setPicked({ block, row, col, keys, text });
    setAnchors(keys);
    document.querySelector("[data-testid=latent-map]")?.scrollIntoView({ behavior: "smooth", block: "start" });
  };
  return (
    <section className="panel" data-testid="cluster-panel" data-state="ready" data-epoch={q.epoch}>
      {head}
      {q.note ? <p className="callout" data-testid="cluster-note">{q.note}</p> : null}
      {q.phase_note ?? q.mixture?.phase_note ? <p className="callout warn" data-testid="cluster-phase-note">{q.phase_note ?? q.mixture?.phase_note}</p> : null}
      <div className={s.scores}>
        {q.mixture ? (
          <>
            <div className={s.score}><b data-testid="cluster-accuracy">{percent(q.mixture.accuracy)}</b>
              <span>accuracy: digits in the component matched to their digit (best one-to-one matching)</span></div>
            <div className={s.score}><b data-testid="cluster-nmi">{q.mixture.nmi.toFixed(2)}</b>
              <span>NMI: shared information of components and digits (0 none, 1 the same partition)</span></div>
          </>
        ) : null}
        {q.classifier ? (
          <div className={s.score}><b data-testid="classifier-accuracy">{q.classifier.accuracy !== null ? percent(q.classifier.accuracy) : "–"}</b>
            <span>classifier accuracy on {q.classifier.n} held-out digits</span></div>
        ) : null}
      </div>
      {q.mixture ? (
        <p className="note" data-testid="cluster-labels-note">{q.mixture.labels_note || "Labels are used only for scoring and display: the mixture is fitted without them."}
          {" "}Scored on {q.n} digits of the visualization subset.</p>
      ) : null}
      {q.unlabelled_note ? <p className="note">{q.unlabelled_note}</p> : null}
      {!clickable ? <p className="note">{doc ? `The map's file has ${doc.n} points and this file ${q.n}: cells cannot be focused.` : "Loading the map's points…"}</p> : null}
      <div className={s.blocks}>
        {q.mixture ? <MixtureBlock mixture={q.mixture} epoch={q.epoch} classes={names} picked={picked} pick={pick} clickable={clickable} /> : null}
        {q.classifier ? <ClassifierBlock classifier={q.classifier} classes={names} picked={picked} pick={pick} clickable={clickable} /> : null}
      </div>
      {picked ? (
        <div className={s.focusNote} data-testid="cluster-focus" data-count={picked.keys.length}>
          <span>Focused on the map: {picked.text} (the focus box adds their latent neighbours).</span>
          <button type="button" className="btn ghost small" onClick={() => setAnchors([])}>clear</button>
        </div>
      ) : q.mixture || q.classifier ? <p className="note">Click a cell to focus its digits on the map.</p> : null}
    </section>
  );
}
