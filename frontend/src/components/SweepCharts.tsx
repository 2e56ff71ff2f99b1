// The sweep view's charts: every member's curve over epochs, coloured by a parameter, and a
// parameter-vs-metric plot with each setting's mean ± standard deviation over seeds. Plain SVG.
import type { SweepMember } from "@/lib/api";
import { fmt } from "@/lib/runState";
import { colourScale, heldGroups, meanStd, paramOf, poolingText, shortName, valueText } from "@/lib/sweeps";

const SETTING_COLOURS = ["#3157d5", "#d9730d", "#1f7a4a", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#b7950b"];

const W = 420;
const H = 220;
const PAD = { l: 52, r: 12, t: 10, b: 30 };

function span(values: number[]): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (!finite.length) return [0, 1];
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (hi - lo < 1e-12) [lo, hi] = [lo - (Math.abs(lo) * 0.05 || 0.5), hi + (Math.abs(hi) * 0.05 || 0.5)];
  const pad = (hi - lo) * 0.06;
  return [lo - pad, hi + pad];
}

function Axes({ y0, y1, xTicks, xName }: { y0: number; y1: number; xTicks: [number, string][]; xName: string }) {
  const sy = (y: number) => H - PAD.b - ((y - y0) / (y1 - y0)) * (H - PAD.t - PAD.b);
  const yTicks = [0, 1, 2, 3].map((i) => y0 + (i * (y1 - y0)) / 3);
  return (
    <>
      {yTicks.map((t) => (
        <g key={`y${t}`}>
          <line x1={PAD.l} x2={W - PAD.r} y1={sy(t)} y2={sy(t)} className="grid" />
          <text x={PAD.l - 6} y={sy(t) + 3} textAnchor="end" className="tick">{fmt(t, 3)}</text>
        </g>
      ))}
      {xTicks.map(([x, label]) => <text key={`x${x}`} x={x} y={H - 12} textAnchor="middle" className="tick">{label}</text>)}
      <text x={W - PAD.r} y={H - 2} textAnchor="end" className="tick axis-name">{xName}</text>
    </>
  );
}

function Legend({ param, legend }: { param: string; legend: [string, string][] }) {
  return (
    <span className="chart-legend">
      <span>{shortName(param)}:</span>
      {legend.map(([v, c]) => <span key={v} className="legend-item"><i style={{ background: c }} />{v}</span>)}
    </span>
  );
}

export function SweepCurves({ members, metric, colourBy }: { members: SweepMember[]; metric: string; colourBy: string }) {
  const { colour, legend } = colourScale(members, colourBy);
  const points = members.map((m) => (m.history ?? []).map((h, i) => ({ x: (h as Record<string, number>).epoch ?? i + 1, y: (h as Record<string, number>)[metric] }))
    .filter((p) => Number.isFinite(p.y)));
  const maxEpoch = Math.max(1, ...members.map((m) => m.epochs ?? 1), ...points.flat().map((p) => p.x));
  const [y0, y1] = span(points.flat().map((p) => p.y));
  const sx = (x: number) => PAD.l + (x / maxEpoch) * (W - PAD.l - PAD.r);
  const sy = (y: number) => H - PAD.b - ((y - y0) / (y1 - y0)) * (H - PAD.t - PAD.b);
  const step = Math.max(1, Math.ceil(maxEpoch / 10));
  const xTicks: [number, string][] = Array.from({ length: Math.floor(maxEpoch / step) + 1 }, (_, i) => [sx(i * step), String(i * step)]);
  return (
    <figure className="chart" data-testid="sweep-curves">
      <figcaption><span className="chart-title">{metric} by epoch</span><Legend param={colourBy} legend={legend} /></figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${metric} by epoch, one line per run`}>
        <Axes y0={y0} y1={y1} xTicks={xTicks} xName="epoch" />
        {members.map((m, i) => {
          const pts = points[i];
          if (!pts.length) return null;
          const d = pts.map((p, j) => `${j ? "L" : "M"}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join("");
          return (
            <g key={m.run_id} data-run-id={m.run_id}>
              <title>{`${m.run_id} seed ${m.seed}`}</title>
              <path d={d} fill="none" stroke={colour(m)} strokeWidth={1.6} opacity={0.85} className="sweep-curve" />
              {pts.length <= 40 && pts.map((p) => <circle key={p.x} cx={sx(p.x)} cy={sy(p.y)} r={2} fill={colour(m)} />)}
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

/** x = the parameter's values (numbers on a linear axis, anything else as categories), y = the metric of
 *  each member (dots) and, for each value with every other varied field held fixed, the mean ± standard
 *  deviation over seeds (bars, one line per setting of the others, so nothing is pooled silently). */
export function ParamVsMetric({ members, metric, param, which, params }: {
  members: SweepMember[]; metric: string; param: string; which: "final" | "best"; params: string[];
}) {
  const metricOf = (m: SweepMember) => ((m[which] ?? {}) as Record<string, number>)[metric];
  const rows = members.map((m) => ({ m, x: paramOf(m, param), y: metricOf(m) })).filter((r) => Number.isFinite(r.y));
  const numeric = rows.length > 0 && rows.every((r) => typeof r.x === "number");
  const cats = [...new Set(rows.map((r) => valueText(r.x)))];
  if (numeric) cats.sort((a, b) => Number(a) - Number(b));
  const [xlo, xhi] = numeric ? span(rows.map((r) => r.x as number)) : [-0.5, cats.length - 0.5];
  const groups = heldGroups(members, param, params, metricOf).map((g) => ({ ...g, s: meanStd(g.values) }));
  const settings = [...new Set(groups.map((g) => g.held))];
  const nudge = (held: string) => (settings.length > 1 ? (settings.indexOf(held) - (settings.length - 1) / 2) * 7 : 0);
  const sx = (r: unknown, held = "") => {
    const v = numeric ? (r as number) : cats.indexOf(valueText(r));
    return PAD.l + ((v - xlo) / (xhi - xlo)) * (W - PAD.l - PAD.r) + nudge(held);
  };
  const [y0, y1] = span(rows.map((r) => r.y));
  const sy = (y: number) => H - PAD.b - ((y - y0) / (y1 - y0)) * (H - PAD.t - PAD.b);
  const { colour } = colourScale(members, param);
  const settingColour = (held: string) => SETTING_COLOURS[settings.indexOf(held) % SETTING_COLOURS.length];
  const heldOf = (m: SweepMember) => params.filter((p) => p !== param && p !== "seed").map((p) => `${shortName(p)}=${valueText(paramOf(m, p))}`).join(", ");
  return (
    <figure className="chart" data-testid="sweep-param-plot" data-settings={settings.length}>
      <figcaption><span className="chart-title">{which} {metric} vs {shortName(param)}</span>
        <span className="chart-legend" data-testid="sweep-pooling">dots: runs · {poolingText(param, params)}</span>
        {settings.length > 1 ? <span className="chart-legend">{settings.map((h) => <span key={h} style={{ color: settingColour(h), marginRight: 8 }}>━ {h}</span>)}</span> : null}
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${which} ${metric} against ${param}`}>
        <Axes y0={y0} y1={y1} xTicks={cats.map((c) => [sx(numeric ? Number(c) : c), c])} xName={shortName(param)} />
        {param !== "seed" ? groups.map((g) => (
          <g key={`${g.held}|${valueText(g.x)}`} className="sweep-mean">
            <line x1={sx(g.x, g.held)} x2={sx(g.x, g.held)} y1={sy(g.s.mean - g.s.std)} y2={sy(g.s.mean + g.s.std)} stroke={settings.length > 1 ? settingColour(g.held) : "var(--muted)"} strokeWidth={2} />
            <line x1={sx(g.x, g.held) - 6} x2={sx(g.x, g.held) + 6} y1={sy(g.s.mean)} y2={sy(g.s.mean)} stroke="var(--text, currentColor)" strokeWidth={2} />
          </g>
        )) : null}
        {settings.map((h) => {
          const line = groups.filter((g) => g.held === h).sort((a, b) => (numeric ? (a.x as number) - (b.x as number) : cats.indexOf(valueText(a.x)) - cats.indexOf(valueText(b.x))));
          return line.length > 1 ? <path key={h} d={line.map((g, j) => `${j ? "L" : "M"}${sx(g.x, h).toFixed(1)},${sy(g.s.mean).toFixed(1)}`).join("")}
            fill="none" stroke={settings.length > 1 ? settingColour(h) : "var(--muted)"} strokeDasharray="3 3" /> : null;
        })}
        {rows.map((r) => <circle key={r.m.run_id} cx={sx(r.x, heldOf(r.m))} cy={sy(r.y)} r={3.5} fill={settings.length > 1 ? settingColour(heldOf(r.m)) : colour(r.m)} opacity={0.85}><title>{`${r.m.run_id}: ${fmt(r.y)}`}</title></circle>)}
      </svg>
    </figure>
  );
}
