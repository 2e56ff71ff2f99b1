// All components at a glance: each component's prior mean decoded (clusters/prior_means_epoch_<N>.png, K
// tiles side by side in component order), cropped per component with CSS and drawn crisp, ordered by the
// page's matched digit, each with its name ("c4 → 1") and weight. During pretraining the prior is not
// initialised yet, so the strip says so instead of drawing tiles that mean nothing.
import { api, fmt, useRunJson } from "@latentdeck/view-kit";
import { byMatchedDigit, componentColour, componentName, cssRgb, useMapping } from "@latentdeck/view-kit/explorer";
import type { Phase } from "@latentdeck/view-kit";

/** clusters/prior_means_epoch_<N>.json (written by the clusters plugin beside its PNG) */
interface PriorMeans {
  epoch: number;
  components: number;
  tile: [number, number];
  order: "component";
  weights: number[] | null;
  phase_note?: string; // at a pretraining epoch: the tiles decode an untrained prior
}


const TILE_PX = 56;

/** The pretraining span that holds ``epoch`` and the moment the prior is initialised, if any. */
function pretrainingAt(phases: Phase[], epoch: number): { span: Phase; init: Phase | null } | null {
  const span = phases.find((p) => p.name === "pretraining" && p.kind === "span" && epoch >= p.start && epoch <= p.end);
  return span ? { span, init: phases.find((p) => p.name === "prior_init") ?? null } : null;
}

export function PriorMeansStrip({ runId, files, pngs, epoch, phases, classes }: {
  /** the component_prototypes files by epoch: the JSON and the PNG beside it */
  runId: string; files: ReadonlyMap<number, string>; pngs: ReadonlyMap<number, string>; epoch: number; phases: Phase[]; classes: string[];
}) {
  const { mapping } = useMapping();
  const pretraining = pretrainingAt(phases, epoch);
  const epochs = [...files.keys()];
  const onDisk = files.has(epoch) && pngs.has(epoch);
  const doc = useRunJson<PriorMeans>(runId, onDisk && !pretraining ? files.get(epoch)! : null)?.doc ?? null;
  const title = <div className="small"><b>every component&apos;s prior mean, decoded, at epoch {epoch}</b>
    <span className="muted"> · ordered by matched digit · weight = mean q(c|x)</span></div>;

  if (pretraining) {
    const starts = pretraining.init?.start ?? pretraining.span.end + 1;
    return (
      <div data-testid="prior-means" data-state="pretraining" style={{ margin: "0.6rem 0" }}>{title}
        <p className="note" data-testid="prior-means-note">
          Not drawn at epoch {epoch}: during pretraining (epochs {pretraining.span.start}–{pretraining.span.end}) the mixture prior is not
          initialised, so its means would decode to nothing meaningful. The prior is set from the codes before epoch {starts}; the
          decoded means appear from then on.
        </p>
      </div>
    );
  }
  if (epochs.length === 0) {
    return <p className="note" data-testid="prior-means" data-state="missing">No decoded prior means in this run (<code>latentdeck backfill {runId}</code> writes them).</p>;
  }
  if (!onDisk) {
    return <p className="note" data-testid="prior-means" data-state="missing">No decoded prior means at epoch {epoch}; epochs with them: {epochs.join(", ")}.</p>;
  }
  if (!doc) return <div data-testid="prior-means" data-state="loading">{title}<p className="muted small">Loading…</p></div>;
  if (doc.phase_note) {
    return <div data-testid="prior-means" data-state="pretraining" style={{ margin: "0.6rem 0" }}>{title}
      <p className="note" data-testid="prior-means-note">Not drawn: {doc.phase_note}</p></div>;
  }
  const [h, w] = doc.tile;
  const scale = TILE_PX / h, tw = w * scale;
  const order = byMatchedDigit(mapping, Array.from({ length: doc.components }, (_, c) => c));
  return (
    <div data-testid="prior-means" data-state="ready" data-order={order.join(",")} style={{ margin: "0.6rem 0" }}>
      {title}
      <div style={{ display: "flex", gap: "0.35rem", overflowX: "auto", padding: "0.35rem 0" }}>
        {order.map((c) => {
          const weight = doc.weights?.[c];
          return (
            <figure key={c} style={{ margin: 0, textAlign: "center", fontSize: "0.72rem", flex: "none" }} data-testid={`prior-mean-${c}`}>
              <div role="img" aria-label={`decoded prior mean of component ${c}`}
                style={{ width: tw, height: TILE_PX, imageRendering: "pixelated", backgroundColor: "#000", backgroundRepeat: "no-repeat",
                  backgroundImage: `url(${api.artifactUrl(runId, pngs.get(epoch)!)})`,
                  backgroundSize: `${doc.components * tw}px ${TILE_PX}px`, backgroundPosition: `${-c * tw}px 0`,
                  borderRadius: 3, borderBottom: `4px solid ${cssRgb(componentColour(mapping, c))}` }} />
              <figcaption>{mapping?.digitOf.has(c) || !mapping ? componentName(mapping, c, classes) : <>c{c}<br /><span className="muted">unmatched</span></>}
                <br /><span className="muted">{typeof weight === "number" ? `w ${fmt(weight)}` : "w –"}</span></figcaption>
            </figure>
          );
        })}
      </div>
    </div>
  );
}
