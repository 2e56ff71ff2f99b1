// The example's own panel on the run page (ViewSpec "latent-stats", mount run-panel): the summary numbers of every
// epoch's latent_stats file charted over the epochs, and the spread of each latent dimension at one epoch (a
// dimension with a tiny standard deviation is one the encoder hardly uses). It finds its files among the rows of
// the run's listing (no file name is spelled here) and reads them through the page's loadJson. Built like every
// plugin view (latentdeck's frontend/scripts/build-views.mjs) and carried in this package's wheel.
import { useEffect, useState } from "react";
import { Empty, fmt, LineChart, loadJson, useFilesByEpoch } from "@latentdeck/view-kit";
import type { ViewProps } from "@latentdeck/view-kit";

interface Stats { epoch: number; n: number; mean_norm: number; std_mean: number; std_min: number; std: number[] }

const SERIES: [keyof Stats, string][] = [["std_mean", "mean std over dimensions"], ["std_min", "smallest std"], ["mean_norm", "norm of the mean"]];

export default function LatentStatsView({ view, run, files }: ViewProps) {
  const byEpoch = useFilesByEpoch(files, { artifact: "latent_stats", ext: ".json" });
  const [docs, setDocs] = useState<ReadonlyMap<number, Stats>>(new Map());
  const [error, setError] = useState<string | null>(null);
  const [picked, setPicked] = useState<number | null>(null); // null: follow the latest epoch
  useEffect(() => {
    let live = true;
    Promise.all([...byEpoch].map(async ([e, name]) => [e, await loadJson<Stats>(run.id, name)] as const)).then(
      (loaded) => { if (live) setDocs(new Map(loaded)); }, (e: unknown) => { if (live) setError(String(e)); });
    return () => { live = false; };
  }, [run.id, byEpoch]);
  const epochs = [...docs.keys()];
  const head = <h2>{view.title} <span className="muted small">from the example package latentdeck-latent-stats</span></h2>;
  if (!epochs.length) {
    return <section className="panel" data-testid="latent-stats-panel">{head}
      {error ? <p className="small" role="alert">{error}</p> : <Empty title="No latent statistics yet.">They are written after each epoch.</Empty>}
    </section>;
  }
  const epoch = picked !== null && docs.has(picked) ? picked : epochs[epochs.length - 1];
  const doc = docs.get(epoch)!;
  const max = Math.max(...doc.std, 1e-12);
  return (
    <section className="panel" data-testid="latent-stats-panel">{head}
      <LineChart title="the latent codes of the fixed held-out digits, per epoch" maxEpoch={epochs[epochs.length - 1]}
        testId="latent-stats-chart" selectedEpoch={epoch} onPickEpoch={(e) => setPicked(e === epochs[epochs.length - 1] ? null : e)}
        series={SERIES.map(([key, label]) => ({ label, points: epochs.map((e) => ({ x: e, y: Number(docs.get(e)![key]) })) }))} />
      <p className="small" style={{ margin: "0.6rem 0 0.3rem" }}>
        <b>Epoch {epoch}</b>{picked === null ? " (latest)" : ""}: standard deviation of each latent dimension over {doc.n} digits
        <span className="muted"> (click the chart to pick an epoch)</span></p>
      <div data-testid="latent-stats-bars">{doc.std.map((s, d) => (
        <div key={d} className="latent-stats-row" style={{ display: "flex", alignItems: "center", gap: 6, margin: "2px 0" }}>
          <span className="mono" style={{ width: "3.5em", textAlign: "right" }}>z{d}</span>
          <span style={{ height: 12, width: Math.round(240 * s / max), background: "var(--accent)", borderRadius: 2 }} />
          <span className="muted small">{fmt(s)}</span>
        </div>))}
      </div>
    </section>
  );
}
