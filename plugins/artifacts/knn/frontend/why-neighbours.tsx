// "Why is this digit here?" for the one focused point, below the map: a view of the knn plugin (ViewSpec
// "why-neighbours", mount explorer-layer), loaded by the UI at run time. It reads the shown map's projection
// file, this epoch's kNN file and the atlas files when the run has them; a neighbour click focuses it, and a
// walk to a centre is published as "walk" for the view that draws walks.
import { fileOf, useRunJson } from "@latentdeck/view-kit";
import { pointKey } from "@latentdeck/view-kit/explorer";
import type { ViewProps } from "@latentdeck/view-kit";
import type { SheetDoc, NeighboursDoc, ProjectionDoc } from "@latentdeck/view-kit/explorer";
import { WhyPanel } from "./WhyPanel";

export default function WhyNeighboursView({ run, files, explorer, compute }: ViewProps) {
  const doc = useRunJson<ProjectionDoc>(run.id, explorer?.projection ?? null)?.doc ?? null;
  const knnName = doc ? fileOf(files, { artifact: "knn", method: doc.method, epoch: doc.epoch }) : null;
  const reconName = doc ? fileOf(files, { role: "reconstruction-thumbnails", epoch: doc.epoch }) : null;
  const knn = useRunJson<NeighboursDoc>(run.id, knnName)?.doc ?? null;
  const inputs = useRunJson<SheetDoc>(run.id, fileOf(files, { role: "input-thumbnails", epoch: null }))?.doc ?? null;
  const recon = useRunJson<SheetDoc>(run.id, reconName)?.doc ?? null;
  if (!explorer || !doc || explorer.focus.length !== 1) return null;
  const i = doc.indices.findIndex((_, j) => pointKey(doc, j) === explorer.focus[0]);
  if (i < 0) return null;
  return <WhyPanel runId={run.id} doc={doc} i={i} knn={knn && knn.n === doc.n ? knn : null} inputs={inputs} recon={recon}
    classes={run.classes} onFocus={(j) => explorer.setFocus([pointKey(doc, j)])} onWalk={(w) => explorer.publish("walk", w)}
    compute={compute} />;
}
