// A small SVG line chart with an epoch axis: no chart library, a few hundred points at most.
import { fmt } from "@/lib/runState";

export interface Series {
  label: string;
  points: { x: number; y: number }[];
  dashed?: boolean;
  faint?: boolean;
}

const W = 320;
const H = 170;
const PAD = { l: 48, r: 10, t: 10, b: 26 };

function ticks(lo: number, hi: number, count: number): number[] {
  if (hi <= lo) return [lo];
  const step = (hi - lo) / (count - 1);
  return Array.from({ length: count }, (_, i) => lo + i * step);
}

export function LineChart({ title, series, maxEpoch, testId, yDomain }: {
  title: string; series: Series[]; maxEpoch: number; testId?: string;
  /** a fixed y range when the quantity has natural bounds (e.g. 1..K), instead of fitting the data */
  yDomain?: [number, number];
}) {
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.y));
  const x0 = 0;
  const x1 = Math.max(1, maxEpoch);
  let y0 = Math.min(...all.map((p) => p.y));
  let y1 = Math.max(...all.map((p) => p.y));
  if (yDomain) {
    [y0, y1] = yDomain;
  } else if (!all.length) {
    y0 = 0;
    y1 = 1;
  } else if (y1 - y0 < 0.02 * Math.max(Math.abs(y0), Math.abs(y1))) {
    // (nearly) flat: a readable span around it, so the ticks differ and the line reads as flat
    const mid = (y0 + y1) / 2;
    const half = Math.max(0.05 * Math.abs(mid), (y1 - y0) / 2) || 0.5;
    y0 = mid - half;
    y1 = mid + half;
  } else {
    const pad = (y1 - y0) * 0.06;
    y0 -= pad;
    y1 += pad;
  }
  const sx = (x: number) => PAD.l + ((x - x0) / (x1 - x0)) * (W - PAD.l - PAD.r);
  const sy = (y: number) => H - PAD.b - ((y - y0) / (y1 - y0)) * (H - PAD.t - PAD.b);
  const xTicks = x1 <= 10 ? Array.from({ length: x1 + 1 }, (_, i) => i) : ticks(0, x1, 6).map(Math.round);
  const yTicks = ticks(y0, y1, 4);
  const colors = ["var(--series-1)", "var(--series-2)", "var(--series-3)", "var(--series-4)"];
  return (
    <figure className="chart" data-testid={testId}>
      <figcaption>
        <span className="chart-title">{title}</span>
        <span className="chart-legend">
          {series.filter((s) => s.points.length).map((s, i) => (
            <span key={s.label} className="legend-item">
              <i style={{ background: colors[i % colors.length], opacity: s.faint ? 0.5 : 1 }} />
              {s.label} {s.points.length && !s.faint ? fmt(s.points[s.points.length - 1].y) : ""}
            </span>
          ))}
        </span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title} by epoch`}>
        {yTicks.map((t) => (
          <g key={`y${t}`}>
            <line x1={PAD.l} x2={W - PAD.r} y1={sy(t)} y2={sy(t)} className="grid" />
            <text x={PAD.l - 6} y={sy(t) + 3} textAnchor="end" className="tick">{fmt(t, 3)}</text>
          </g>
        ))}
        {xTicks.map((t) => (
          <text key={`x${t}`} x={sx(t)} y={H - 8} textAnchor="middle" className="tick">{t}</text>
        ))}
        <text x={W - PAD.r} y={H - 8} textAnchor="end" className="tick axis-name" dy={-12}>epoch</text>
        {series.map((s, i) => {
          const pts = s.points.filter((p) => Number.isFinite(p.y));
          if (!pts.length) return null;
          const d = pts.map((p, j) => `${j ? "L" : "M"}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join("");
          const color = colors[i % colors.length];
          return (
            <g key={s.label} opacity={s.faint ? 0.45 : 1}>
              <path d={d} fill="none" stroke={color} strokeWidth={s.faint ? 1 : 2} strokeDasharray={s.dashed ? "4 3" : undefined} />
              {!s.faint && pts.length <= 60 && pts.map((p) => <circle key={p.x} cx={sx(p.x)} cy={sy(p.y)} r={2.5} fill={color} />)}
            </g>
          );
        })}
      </svg>
    </figure>
  );
}
