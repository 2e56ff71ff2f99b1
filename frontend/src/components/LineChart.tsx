// A small SVG line chart with an epoch axis: no chart library, a few hundred points at most. The scales
// live in lib/chartScale (always finite: a constant series is a flat line, never NaN). A run's phases
// are shaded bands (spans) and vertical markers (moments), named on hover; the legend shows each
// series' value at the selected epoch (hovered, clicked, or the one a panel shows; default the last).
"use client";
import { createContext, useContext, useState } from "react";
import type { MouseEvent } from "react";
import { linear, nearestEpoch, niceTicks, phaseExtent, tickLabel, valueAt, xDomainOf, yDomainOf } from "@/lib/chartScale";
import type { Domain } from "@/lib/chartScale";
import type { Phase } from "@/lib/phases";
import { fmt } from "@/lib/runState";

export interface Series {
  label: string;
  points: { x: number; y: number }[];
  dashed?: boolean;
  faint?: boolean;
}

/** The phases of the run a page shows: every chart inside draws them unless given its own ``phases``
 * (the run page provides them, so charts of generic artifacts mark them too). */
export const RunPhasesContext = createContext<Phase[]>([]);

const W = 320;
const H = 170;
const PAD = { l: 48, r: 10, t: 10, b: 26 };
const COLORS = ["var(--series-1)", "var(--series-2)", "var(--series-3)", "var(--series-4)"];

function phaseTitle(p: Phase): string {
  const when = p.kind === "moment" ? `before epoch ${p.start}` : p.start === p.end ? `epoch ${p.start}` : `epochs ${p.start}–${p.end}`;
  return `${p.label} (${when})${p.text ? `: ${p.text}` : ""}`;
}

/** The band's label where it fits (about 5.2 px a character at 9 px): the whole label, else its words before
 * a parenthesis ("pretraining" of "pretraining (reconstruction only)"), else none (the hover title still names it). */
function bandLabel(label: string, width: number): string | null {
  const short = label.split(" (")[0];
  return [label, short].find((l) => l && l.length * 5.2 + 6 <= width) ?? null;
}

interface PhaseMark { phase: Phase; at: { from: number; to: number }; label: string | null; row: number }

/** Where each phase is drawn, and how tall the strip above the plot that holds the span labels is: a label
 * takes the first row whose labels end before its span starts (overlapping spans label in rows of their own). */
function layoutPhases(phases: Phase[], axis: Domain, sx: (x: number) => number): { marks: PhaseMark[]; strip: number } {
  const rowEnds: number[] = [];
  const marks = phases.flatMap((phase) => {
    const at = phaseExtent(phase, axis);
    if (!at) return [];
    const label = phase.kind === "span" ? bandLabel(phase.label, sx(at.to) - sx(at.from)) : null;
    let row = 0;
    if (label) {
      row = rowEnds.findIndex((end) => end <= at.from);
      if (row < 0) row = rowEnds.length;
      rowEnds[row] = at.to;
    }
    return [{ phase, at, label, row }];
  });
  return { marks, strip: rowEnds.length * 10 };
}

function PhaseMarks({ marks, sx, bottom }: { marks: PhaseMark[]; sx: (x: number) => number; bottom: number }) {
  const top = PAD.t;
  return (
    <g className="phases">
      {marks.map(({ phase: p, at, label, row }, i) => {
        const title = <title>{phaseTitle(p)}</title>;
        if (p.kind === "moment") {
          const x = sx(at.from);
          return (
            <g key={`${p.name}-${i}`} data-testid="phase-moment" data-phase={p.name} data-x={at.from}>
              {title}
              <line x1={x} x2={x} y1={top} y2={bottom} className="phase-moment" />
              <line x1={x} x2={x} y1={top} y2={bottom} stroke="transparent" strokeWidth={8} />
              <path d={`M${x - 4},${top}L${x + 4},${top}L${x},${top + 5}Z`} className="phase-moment-tip" />
            </g>
          );
        }
        const x0 = sx(at.from), width = Math.max(1, sx(at.to) - x0);
        return (
          <g key={`${p.name}-${i}`} data-testid="phase-band" data-phase={p.name} data-from={at.from} data-to={at.to}>
            {title}
            <rect x={x0} y={top} width={width} height={bottom - top} className={`phase-band phase-band-${i % 2}`} />
            {label ? <text x={x0 + 3} y={top + 8 + 10 * row} className="phase-label">{label}</text> : null}
          </g>
        );
      })}
    </g>
  );
}

export function LineChart({ title, series, maxEpoch, testId, yDomain, phases, selectedEpoch, onPickEpoch }: {
  title: string; series: Series[]; maxEpoch: number; testId?: string;
  /** a fixed y range when the quantity has natural bounds (e.g. 1..K), instead of fitting the data */
  yDomain?: [number, number];
  /** the run's phases: spans shaded, moments marked, both named on hover (default: RunPhasesContext's) */
  phases?: Phase[];
  /** the epoch the legend reports and the marker line shows (e.g. the epoch a panel shows); default the last */
  selectedEpoch?: number | null;
  /** a click on the chart picks the nearest epoch (the run page shows it on every chart) */
  onPickEpoch?: (epoch: number) => void;
}) {
  const [hovered, setHovered] = useState<number | null>(null);
  const runPhases = useContext(RunPhasesContext);
  const drawn = series.map((s) => ({ ...s, points: s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)) }));
  const all = drawn.flatMap((s) => s.points);
  const xAxis = xDomainOf(maxEpoch, all.map((p) => p.x));
  const yAxis = yDomainOf(all.map((p) => p.y), yDomain);
  const sx = linear(xAxis, PAD.l, W - PAD.r);
  // span labels sit in a strip above the plot (never under a line): the chart grows by the strip
  const { marks, strip } = layoutPhases(phases ?? runPhases, xAxis, sx);
  const height = H + strip;
  const sy = linear(yAxis, height - PAD.b, PAD.t + strip);
  const x1 = xAxis[1];
  const xTicks = x1 <= 10 ? Array.from({ length: Math.floor(x1) + 1 }, (_, i) => i) : niceTicks(xAxis, 6).ticks;
  const { ticks: yTicks, step: yStep } = niceTicks(yAxis, 4);
  const epochs = [...new Set(drawn.filter((s) => !s.faint).flatMap((s) => s.points.map((p) => p.x)).filter(Number.isInteger))].sort((a, b) => a - b);
  const chosen = hovered ?? (selectedEpoch != null && Number.isFinite(selectedEpoch) ? selectedEpoch : null);

  const epochAt = (e: MouseEvent<SVGSVGElement>): number | null => {
    const box = e.currentTarget.getBoundingClientRect();
    if (!box.width) return null;
    const vx = ((e.clientX - box.left) / box.width) * W;
    const x = xAxis[0] + ((vx - PAD.l) / (W - PAD.l - PAD.r)) * (xAxis[1] - xAxis[0]);
    return nearestEpoch(epochs, x);
  };

  return (
    <figure className="chart" data-testid={testId} data-selected-epoch={chosen ?? undefined}>
      <figcaption>
        <span className="chart-title">{title}</span>
        <span className="chart-legend">
          {chosen !== null ? <span className="legend-epoch" data-testid="legend-epoch">epoch {chosen}</span> : null}
          {drawn.filter((s) => s.points.length).map((s, i) => {
            const value = s.faint ? null : chosen !== null ? valueAt(s.points, chosen) : s.points[s.points.length - 1].y;
            return (
              <span key={s.label} className="legend-item" data-testid="legend-item" data-series={s.label}>
                <i style={{ background: COLORS[i % COLORS.length], opacity: s.faint ? 0.5 : 1 }} />
                {s.label} {s.faint ? "" : <span className="legend-value" data-value={value ?? ""}>{fmt(value)}</span>}
              </span>
            );
          })}
        </span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${height}`} role="img" aria-label={`${title} by epoch`}
        onMouseMove={epochs.length ? (e) => setHovered(epochAt(e)) : undefined}
        onMouseLeave={() => setHovered(null)}
        onClick={onPickEpoch && epochs.length ? (e) => { const at = epochAt(e); if (at !== null) onPickEpoch(at); } : undefined}>
        {marks.length ? <PhaseMarks marks={marks} sx={sx} bottom={height - PAD.b} /> : null}
        {yTicks.map((t) => (
          <g key={`y${t}`}>
            <line x1={PAD.l} x2={W - PAD.r} y1={sy(t)} y2={sy(t)} className="grid" />
            <text x={PAD.l - 6} y={sy(t) + 3} textAnchor="end" className="tick">{tickLabel(t, yStep)}</text>
          </g>
        ))}
        {xTicks.map((t) => (
          <text key={`x${t}`} x={sx(t)} y={height - 8} textAnchor="middle" className="tick">{t}</text>
        ))}
        <text x={W - PAD.r} y={height - 8} textAnchor="end" className="tick axis-name" dy={-12}>epoch</text>
        {chosen !== null ? <line x1={sx(chosen)} x2={sx(chosen)} y1={PAD.t + strip} y2={height - PAD.b} className="selected-epoch" data-testid="chart-selected" /> : null}
        {drawn.map((s, i) => {
          const pts = s.points;
          if (!pts.length) return null;
          const d = pts.map((p, j) => `${j ? "L" : "M"}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join("");
          const color = COLORS[i % COLORS.length];
          return (
            <g key={s.label} opacity={s.faint ? 0.45 : 1} data-series={s.label}>
              <path d={d} fill="none" stroke={color} strokeWidth={s.faint ? 1 : 2} strokeDasharray={s.dashed ? "4 3" : undefined} />
              {!s.faint && pts.length <= 60 && pts.map((p) => (
                <circle key={p.x} cx={sx(p.x)} cy={sy(p.y)} r={p.x === chosen ? 3.5 : 2.5} fill={color} />
              ))}
            </g>
          );
        })}
      </svg>
    </figure>
  );
}
