"use client";
// The explorer's difference mode, "what changed since the last epoch": trails from each point's place at the
// previous epoch with a map file (same method and dimension) to its place now, points coloured by how much
// their latent neighbourhood changed (1 − Jaccard of the two neighbours files' neighbour sets), a headline number,
// and the move split into re-orientation (one turn / mirror, growth and shift of the whole map) and learning
// (what is left). Reads the two epochs' projection and neighbours files (role "neighbours"); the math is in lib/latent/changes.ts and
// lib/latent/similarity.ts.
import { useMemo, useState } from "react";
import type { Catalogue } from "@/lib/latent/catalogue";
import { neighboursFile, projectionFile, providerOf } from "@/lib/latent/catalogue";
import { alignmentNote, changeColour, changeColours, changeHeadline, neighbourKeys, matchPoints, neighbourhoodChangeOf, trailSet } from "@/lib/latent/changes";
import type { NeighbourhoodChange, TrailSet } from "@/lib/latent/changes";
import { cssRgb, gradientCss } from "@/lib/latent/colour";
import { useRunJson } from "@/lib/latent/files";
import type { NeighboursDoc } from "@/lib/latent/gating";
import { pointKeys } from "@/lib/latent/points";
import { mapRows, rowsAt } from "@/lib/artifacts";
import type { ProjectionDoc } from "@/lib/latent/points";
import type { Scaling } from "@/lib/latent/scaling";
import { toWorld } from "@/lib/latent/scaling";
import { applySimilarity, describeMove, fitSimilarity, spanOf } from "@/lib/latent/similarity";
import type { MoveWords, SimilarityFit } from "@/lib/latent/similarity";
import c from "./Changes.module.css";
import s from "./Explorer.module.css";
import ui from "@/viewkit/ui.module.css";

export type TrailBase = "whole" | "learning";

export interface Changes {
  on: boolean;
  setOn: (on: boolean) => void;
  /** the epoch compared with (the previous one with this map's file), null at the first */
  previousEpoch: number | null;
  epoch: number | null;
  trails: TrailSet | null;
  /** the points' colours by neighbourhood change, when that colouring is on (else null: the explorer's own) */
  colours: Uint8Array | null;
  colourByChange: boolean;
  setColourByChange: (on: boolean) => void;
  trailBase: TrailBase;
  setTrailBase: (base: TrailBase) => void;
  neighbourhood: NeighbourhoodChange | null;
  k: number | null;
  move: { fit: SimilarityFit; words: MoveWords; span: number; matched: number } | null;
  note: string | null;
  /** neighbours files missing for the compared epochs (their numbers) */
  neighboursMissing: number[];
  /** the installed computation that writes neighbours files (what to backfill), null when none is installed */
  neighboursBy: string | null;
  loading: boolean;
  error: string | null;
}

/** The difference mode's state and everything it draws, for the shown map (`doc`, its world `positions`
 * and `colours`). Files are read only while the mode is on. */
export function useChanges({ runId, catalogue, epochs, doc, scaling, positions, colours, initial = {} }: {
  runId: string; catalogue: Catalogue; epochs: number[]; doc: ProjectionDoc | null; scaling: Scaling | null;
  positions: Float32Array; colours: Uint8Array;
  /** the mode as the page address asked for it: changes off | whole | learning, changeColour on | off */
  initial?: { changes?: string; changeColour?: string };
}): Changes {
  const [on, setOn] = useState(initial.changes === "whole" || initial.changes === "learning");
  const [colourByChange, setColourByChange] = useState(initial.changeColour !== "off");
  const [trailBase, setTrailBase] = useState<TrailBase>(initial.changes === "learning" ? "learning" : "whole");
  const epoch = doc?.epoch ?? null;
  const at = epoch === null ? -1 : epochs.indexOf(epoch);
  const previousEpoch = at > 0 ? epochs[at - 1] : null;
  const method = doc?.method ?? "", dims = doc?.dims ?? 2;
  const want = on && doc !== null && previousEpoch !== null;
  const hasNeighbours = (e: number | null) => neighboursFile(catalogue, method, e) !== null;
  const previous = useRunJson<ProjectionDoc>(runId, want ? projectionFile(catalogue, method, dims, previousEpoch!) : null);
  const previousNeighbours = useRunJson<NeighboursDoc>(runId, want && hasNeighbours(previousEpoch) ? neighboursFile(catalogue, method, previousEpoch) : null);
  const currentNeighbours = useRunJson<NeighboursDoc>(runId, want && hasNeighbours(epoch) ? neighboursFile(catalogue, method, epoch) : null);
  const prevDoc = previous?.doc && previous.doc.dims === dims ? previous.doc : null;

  const matched = useMemo(() => (doc && prevDoc ? matchPoints(prevDoc, doc) : null), [doc, prevDoc]);
  const move = useMemo(() => {
    if (!doc || !prevDoc || !matched || matched.count < 2) return null;
    const from = rowsAt(prevDoc.coords, matched.previousAt), to = rowsAt(doc.coords, matched.shownAt);
    const fit = fitSimilarity(from, to, dims);
    const span = spanOf(to, dims);
    return { fit, words: describeMove(fit, span), span, matched: matched.count };
  }, [doc, prevDoc, matched, dims]);

  const neighbourhood = useMemo(() => {
    const a = previousNeighbours?.doc, b = currentNeighbours?.doc;
    return a && b && doc && prevDoc ? neighbourhoodChangeOf(a, prevDoc, b, doc) : null;
  }, [previousNeighbours, currentNeighbours, doc, prevDoc]);
  const rows = useMemo(() => { // map point i -> its row in the current neighbours file
    const graph = currentNeighbours?.doc;
    if (!graph || !doc) return null;
    const rowOf = new Map(neighbourKeys(graph, doc).map((key, r) => [key, r]));
    return Int32Array.from(pointKeys(doc), (key) => rowOf.get(key) ?? -1);
  }, [currentNeighbours, doc]);

  const shown = useMemo(() => (on && colourByChange && neighbourhood && rows && rows.length === colours.length / 4
    ? changeColours(colours, neighbourhood.change, rows) : null), [on, colourByChange, neighbourhood, rows, colours]);

  const trails = useMemo(() => {
    if (!on || !doc || !prevDoc || !matched || !scaling || positions.length !== 3 * doc.n) return null;
    const start = trailBase === "learning" && move ? mapRows(prevDoc.coords, (p) => applySimilarity(move.fit, p)) : prevDoc.coords;
    return trailSet(matched, toWorld(start, dims, scaling), positions, shown ?? colours);
  }, [on, doc, prevDoc, matched, scaling, positions, trailBase, move, dims, shown, colours]);

  const neighboursMissing = want ? [previousEpoch!, epoch!].filter((e) => !hasNeighbours(e)) : [];
  const error = previous?.error ?? previousNeighbours?.error ?? currentNeighbours?.error ?? null;
  return {
    on, setOn, previousEpoch, epoch, trails, colours: shown, colourByChange, setColourByChange, trailBase, setTrailBase,
    neighbourhood, k: currentNeighbours?.doc?.k ?? null, move,
    note: doc && previousEpoch !== null ? alignmentNote(doc, previousEpoch, epochs) : null,
    neighboursMissing, neighboursBy: providerOf(catalogue, "neighbours"), loading: want && !error && (!previous || (neighboursMissing.length === 0 && (!previousNeighbours || !currentNeighbours))), error,
  };
}

/** The switch, in the map's corner next to the timeline: "changes since epoch N−1". */
export function ChangesToggle({ changes }: { changes: Changes }) {
  const { on, setOn, previousEpoch } = changes;
  return (
    <button type="button" className={c.toggle} aria-pressed={on} disabled={previousEpoch === null && !on} data-testid="changes-toggle"
      title={previousEpoch === null ? "this is the first epoch with this map: nothing earlier to compare with"
        : `difference mode: trails from each point's place at epoch ${previousEpoch}, colours by how much its latent neighbours changed`}
      onClick={() => setOn(!on)}>changes since epoch {previousEpoch ?? "–"}</button>
  );
}

/** The side panel of the difference mode: the headline, the colour's legend and the move in words. */
export function ChangesPanel({ changes, runId }: { changes: Changes; runId: string }) {
  const { previousEpoch, epoch, neighbourhood: n, move, k } = changes;
  if (!changes.on) return null;
  if (previousEpoch === null || epoch === null) {
    return <div className={s.note} data-testid="changes-panel" data-state="first">Epoch {epoch ?? "–"} is the first epoch with this map: there is nothing earlier to compare with. Pick a later epoch on the timeline.</div>;
  }
  const headline = n ? changeHeadline(n, previousEpoch, epoch) : null;
  return (
    <div data-testid="changes-panel" data-state={changes.loading ? "loading" : "ready"} data-from={previousEpoch} data-to={epoch}
      data-compared={n?.compared ?? ""} data-kept-fewer={n?.keptFewerThanHalf ?? ""} data-trails={changes.trails?.count ?? 0}
      data-turn={move ? move.fit.turnDeg.toFixed(3) : ""} data-scale={move ? move.fit.scale.toFixed(5) : ""}
      data-mirrored={move ? String(move.fit.reflection) : ""}
      data-residual={move ? (move.words.medianResidual / (move.span || 1)).toFixed(5) : ""}>
      <h3>changes since epoch {previousEpoch}</h3>
      {changes.error ? <p className={s.note} role="alert">{changes.error}</p> : null}
      {changes.loading ? <p className={s.note}>Reading epoch {previousEpoch}&apos;s files…</p> : null}
      {headline ? <p style={{ margin: "0 0 0.35rem", fontSize: "0.95rem" }} data-testid="changes-headline"><b>{headline}</b></p> : null}
      {changes.neighboursMissing.length ? (
        <p className={s.note} data-testid="changes-neighbours-missing">No neighbour file for epoch {changes.neighboursMissing.join(" and ")}, so neighbourhoods cannot be
          compared ({changes.neighboursBy ? <><code>latentdeck backfill {runId} --artifacts {changes.neighboursBy}</code> writes them</>
            : "no installed plugin writes neighbour files"}). The trails still show the moves.</p>
      ) : null}
      {n ? (
        <>
          <div className={s.gradient} style={{ background: gradientCss(changeColour) }} />
          <div className={s.scaleRow}><span>0 = the same neighbours</span><span>1 = all new</span></div>
          <p className={s.note} style={{ margin: "0.3rem 0" }}>
            Colour: 1 − Jaccard of each point&apos;s {k ?? "k"} nearest neighbours at epoch {previousEpoch} and at epoch {epoch}
            {" "}(shared ÷ either). Median {n.median.toFixed(2)} over {n.compared} points. Neighbours are measured in the latent space, so this
            colour shows what the model learned, never the map turning.
            {" "}<i className={s.swatch} style={{ background: cssRgb(changeColour(NaN)) }} /> not in both files.
          </p>
          <label className="small" style={{ display: "flex", gap: "0.3rem", alignItems: "center" }}>
            <input type="checkbox" checked={changes.colourByChange} onChange={(e) => changes.setColourByChange(e.target.checked)} data-testid="changes-colour" />
            colour the points by neighbourhood change
          </label>
        </>
      ) : null}
      {move ? (
        <div style={{ marginTop: "0.5rem" }}>
          <h3>how the map moved</h3>
          <p style={{ margin: "0.2rem 0" }} data-testid="changes-reorientation">{move.words.reorientation}</p>
          <p style={{ margin: "0.2rem 0" }} data-testid="changes-learning">{move.words.learning}</p>
          {changes.note ? <p className={s.note} style={{ margin: "0.2rem 0" }} data-testid="changes-alignment">{changes.note}</p> : null}
          <span className={ui.fieldLabel}>trails start at</span>
          <div className={ui.seg} role="group" aria-label="trails start at" data-testid="changes-trail-base">
            <button type="button" aria-pressed={changes.trailBase === "whole"} data-value="whole" onClick={() => changes.setTrailBase("whole")}
              title={`where each point was at epoch ${previousEpoch}: the whole move`}>epoch {previousEpoch}</button>
            <button type="button" aria-pressed={changes.trailBase === "learning"} data-value="learning" onClick={() => changes.setTrailBase("learning")}
              title="where the turn, growth and shift of the whole map alone would have taken each point: the trail is then learning only">learning only</button>
          </div>
          <p className={s.note} style={{ margin: "0.25rem 0 0" }}>
            {changes.trailBase === "whole"
              ? `Each trail runs from where the point was at epoch ${previousEpoch} (faint end) to where it is now: re-orientation and learning together.`
              : "Each trail starts where the whole map's turn, growth and shift alone would have put the point: what is left is learning."}
            {changes.trailBase === "whole" && move.fit.explained >= 0.5 ? " Most of this movement is the whole map moving: pick “learning only” to see what is left." : null}
            {" "}Extent: the longest side of the map&apos;s box.
          </p>
        </div>
      ) : null}
    </div>
  );
}
