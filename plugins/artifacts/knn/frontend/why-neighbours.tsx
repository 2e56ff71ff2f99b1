// "Why is this digit here?" for the one focused point, below the map: a view of the knn plugin (ViewSpec
// "why-neighbours", mount explorer-layer), loaded by the UI at run time. It reads the shown map's projection
// file, this epoch's kNN file and the atlas files when the run has them; a neighbour click focuses it, and a
// walk to a centre is published as "walk" for the view that draws walks.
import { useRunJson } from "@latentdeck/view-kit";
import { pointKey } from "@latentdeck/view-kit/explorer";
import type { ViewProps } from "@latentdeck/view-kit";
import type { AtlasDoc, KnnDoc, ProjectionDoc } from "@latentdeck/view-kit/explorer";
import { WhyPanel } from "./WhyPanel";

const INPUTS = "atlas/atlas_inputs.json";

export default function WhyNeighboursView({ run, files, explorer, compute }: ViewProps) {
  const doc = useRunJson<ProjectionDoc>(run.id, explorer?.projection ?? null)?.doc ?? null;
  const knnName = doc ? `neighbors/knn_${doc.method}_epoch_${doc.epoch}.json` : null;
  const reconName = doc ? `atlas/atlas_epoch_${doc.epoch}.json` : null;
  const knn = useRunJson<KnnDoc>(run.id, knnName && files.includes(knnName) ? knnName : null)?.doc ?? null;
  const inputs = useRunJson<AtlasDoc>(run.id, files.includes(INPUTS) ? INPUTS : null)?.doc ?? null;
  const recon = useRunJson<AtlasDoc>(run.id, reconName && files.includes(reconName) ? reconName : null)?.doc ?? null;
  if (!explorer || !doc || explorer.focus.length !== 1) return null;
  const i = doc.indices.findIndex((_, j) => pointKey(doc, j) === explorer.focus[0]);
  if (i < 0) return null;
  return <WhyPanel runId={run.id} doc={doc} i={i} knn={knn && knn.n === doc.n ? knn : null} inputs={inputs} recon={recon}
    classes={run.classes} onFocus={(j) => explorer.setFocus([pointKey(doc, j)])} onWalk={(w) => explorer.publish("walk", w)}
    compute={compute} />;
}
