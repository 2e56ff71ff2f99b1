"use client";
// The run page's curves: one chart per logged part, the loss weights applied each epoch and the model's
// diagnostics, each with the run's phases marked. Clicking a chart picks an epoch for every chart's legend;
// charts of options that are off (0 in every epoch) wait behind a toggle.
import { useMemo, useState } from "react";
import type { Phase } from "@/lib/phases";
import { chartSpecs, inactiveSummary, seriesPoints } from "@/lib/runCharts";
import type { RunState } from "@/lib/runState";
import { LineChart } from "./LineChart";
import { Empty } from "./ui";

export function RunCharts({ state, total, phases, active }: { state: RunState; total: number; phases: Phase[]; active: boolean }) {
  const [showInactive, setShowInactive] = useState(false);
  const [picked, setPicked] = useState<number | null>(null); // null: every legend shows the latest epoch
  const ended = state.ended !== null || !active;
  const specs = useMemo(() => chartSpecs(state.metrics, { phases, plannedEpochs: total || null, ended }), [state.metrics, phases, total, ended]);
  const hidden = inactiveSummary(specs);
  const maxEpoch = Math.max(total, state.metrics.length);
  const batches = state.progressPoints.map((p) => ({ x: p.x, y: p.loss }));

  if (!specs.length) {
    return batches.length ? (
      <div className="charts" data-testid="charts">
        <LineChart title="loss (running, first epoch)" maxEpoch={Math.max(total, 1)} testId="chart-loss" phases={phases} series={[{ label: "batches", points: batches }]} />
      </div>
    ) : (
      <Empty title={active ? "Waiting for the first batches…" : "This run logged no metrics."}>
        {active ? "Curves appear as training reports progress." : "It ended before its first epoch finished."}
      </Empty>
    );
  }
  const pick = (epoch: number) => setPicked((p) => (p === epoch ? null : epoch));
  return (
    <>
      <div className="chart-controls">
        <span className="muted small" data-testid="picked-epoch" data-epoch={picked ?? ""}>
          {picked === null ? "Legends show the latest epoch; hover a chart for another, click to keep it." : <>Legends show epoch {picked}. <button type="button" className="linkish" onClick={() => setPicked(null)}>show the latest</button></>}
        </span>
        {hidden.text ? (
          <button type="button" className="linkish small" data-testid="inactive-toggle" data-hidden={hidden.charts + hidden.series} aria-pressed={showInactive}
            onClick={() => setShowInactive((v) => !v)}>
            {hidden.text} — {showInactive ? "hide" : "show"}
          </button>
        ) : null}
      </div>
      <div className="charts" data-testid="charts">
        {specs.filter((spec) => showInactive || !spec.inactive).map((spec) => (
          <div key={spec.key} className={spec.inactive ? "chart-inactive" : undefined} data-inactive={spec.inactive ? "true" : undefined}>
            <LineChart title={spec.inactive ? `${spec.title} (off)` : spec.title} maxEpoch={maxEpoch} testId={`chart-${spec.key}`}
              phases={phases} selectedEpoch={picked} onPickEpoch={pick}
              series={[
                ...spec.series.filter((s) => showInactive || spec.inactive || !s.inactive)
                  .map((s) => ({ label: s.inactive && !spec.inactive ? `${s.label} (off)` : s.label, points: seriesPoints(state.metrics, s.key), dashed: s.inactive })),
                ...(spec.key === "loss" && batches.length ? [{ label: "batches", points: batches, faint: true }] : []),
              ]} />
          </div>
        ))}
      </div>
    </>
  );
}
