// The reconstruction grid of an epoch, with an epoch slider that follows the latest epoch until moved.
// A view of the recon plugin (ViewSpec "recon-grid", mount run-panel), loaded by the UI at run time.
import { useState } from "react";
import { api, Empty, ErrorBox, useFilesByEpoch } from "@latentdeck/view-kit";
import type { ViewProps } from "@latentdeck/view-kit";
import s from "./recon-grid.module.css";

export default function ReconGridView({ run, files }: ViewProps) {
  const grids = useFilesByEpoch(files, { artifact: "recon_grid", ext: ".png" });
  return <section className="panel"><h2>Reconstructions</h2><ReconGrid runId={run.id} grids={grids} /></section>;
}

function ReconGrid({ runId, grids }: { runId: string; grids: ReadonlyMap<number, string> }) {
  const epochs = [...grids.keys()];
  const [picked, setPicked] = useState<number | null>(null); // null: follow the latest epoch
  const [failed, setFailed] = useState<Record<number, boolean>>({});
  if (!epochs.length) {
    return <Empty title="No reconstruction grid yet.">It appears after the first epoch finishes.</Empty>;
  }
  const epoch = picked !== null && epochs.includes(picked) ? picked : epochs[epochs.length - 1];
  const index = epochs.indexOf(epoch);
  return (
    <div className={s.grid} data-testid="recon">
      <div className="scrubber">
        <input type="range" min={0} max={epochs.length - 1} value={index} aria-label="epoch of the reconstruction grid" data-testid="recon-scrubber"
          onChange={(e) => {
            const i = Number(e.target.value);
            setPicked(i === epochs.length - 1 ? null : epochs[i]);
          }} />
        <span className="mono" data-testid="recon-epoch">epoch {epoch}{picked === null ? " (latest)" : ""}</span>
      </div>
      {failed[epoch] ? (
        <ErrorBox title={`The reconstruction grid of epoch ${epoch} could not be loaded.`}>
          Its file may have been removed from <code>runs/{runId}/reconstructions/</code>. Other epochs may still load: move the slider.
        </ErrorBox>
      ) : (
        // eslint-disable-next-line @next/next/no-img-element -- a run artifact served by the API, not a static asset
        <img src={api.artifactUrl(runId, grids.get(epoch)!)} alt={`originals above their reconstructions, epoch ${epoch}`}
          onError={() => setFailed((f) => ({ ...f, [epoch]: true }))} />
      )}
      <p className="muted small">Originals (rows 1, 3, …) above their reconstructions; the same held-out digits every epoch.</p>
    </div>
  );
}
