// The line charts' scales, as pure functions: a y range that is always finite and never empty (a
// constant or single-point series reads as a flat line on a readable axis), tick values and labels that
// always differ, and where a run's phases fall on the epoch axis. No NaN can leave these functions.
import type { Phase } from "./phases";

/** A value range with lo < hi, both finite. */
export type Domain = [number, number];

/** The range a constant value c gets: c ± 5 % of |c|, or -1..1 around 0. */
function flatDomain(c: number): Domain {
  const half = Math.abs(c) * 0.05;
  return half > 0 && Number.isFinite(c - half) && Number.isFinite(c + half) && c + half > c - half ? [c - half, c + half] : [-1, 1];
}

const usable = (d: Domain | undefined): d is Domain =>
  !!d && Number.isFinite(d[0]) && Number.isFinite(d[1]) && d[1] > d[0] && Number.isFinite(d[1] - d[0]);

/** The y range of a chart: ``fixed`` when it is a usable range, else the finite values with 6 % headroom;
 * (nearly) flat values get a range around them (so the ticks differ and the line reads as flat); no values: 0..1. */
export function yDomainOf(values: number[], fixed?: Domain): Domain {
  if (usable(fixed)) return fixed;
  const finite = values.filter(Number.isFinite);
  if (!finite.length) return [0, 1];
  let lo = Infinity, hi = -Infinity;
  for (const v of finite) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const mid = lo / 2 + hi / 2;
  if (!(hi - lo > 0.02 * Math.max(Math.abs(lo), Math.abs(hi))) || !Number.isFinite(hi - lo)) {
    const [flo, fhi] = flatDomain(mid);
    const out: Domain = [Math.min(flo, lo), Math.max(fhi, hi)];
    return usable(out) ? out : [-1, 1];
  }
  const pad = (hi - lo) * 0.06;
  const out: Domain = [lo - pad, hi + pad];
  return usable(out) ? out : flatDomain(mid);
}

/** The epoch axis: 0 .. the planned epochs (at least 1, and at least the largest x drawn). */
export function xDomainOf(maxEpoch: number, xs: number[] = []): Domain {
  let hi = Number.isFinite(maxEpoch) ? Math.max(1, maxEpoch) : 1;
  for (const x of xs) if (Number.isFinite(x) && x > hi) hi = x;
  return [0, hi];
}

/** A linear map from ``domain`` onto ``[outLo, outHi]``; a value outside the finite numbers maps to outLo. */
export function linear(domain: Domain, outLo: number, outHi: number): (v: number) => number {
  const [lo, hi] = usable(domain) ? domain : [0, 1];
  const k = (outHi - outLo) / (hi - lo);
  return (v: number) => {
    const out = outLo + (v - lo) * k;
    return Number.isFinite(out) ? out : outLo;
  };
}

/** About ``count`` round tick values (steps of 1, 2 or 5 × 10^k) inside the domain, and their step. */
export function niceTicks(domain: Domain, count = 4): { ticks: number[]; step: number } {
  const [lo, hi] = usable(domain) ? domain : [0, 1];
  const raw = (hi - lo) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw * 0.999) ?? 10 * power;
  const ticks: number[] = [];
  for (let i = Math.ceil(lo / step - 1e-9); i * step <= hi + step * 1e-9 && ticks.length < 50; i++) {
    ticks.push(Math.abs(i * step) < step * 1e-9 ? 0 : i * step);
  }
  return ticks.length ? { ticks, step } : { ticks: [lo, hi], step: hi - lo };
}

/** A tick's label, with just enough digits that neighbouring ticks ``step`` apart read differently. */
export function tickLabel(value: number, step: number): string {
  if (!Number.isFinite(value)) return "–";
  if (value === 0) return "0";
  const size = Math.max(Math.abs(value), Math.abs(step));
  if (size >= 1e5 || (Math.abs(step) < 1e-3 && size < 1e-2)) {
    const digits = Math.min(8, Math.max(1, Math.ceil(Math.log10(Math.abs(value) / Math.abs(step)) + 1e-9)));
    return value.toExponential(digits);
  }
  const decimals = Math.min(10, Math.max(0, -Math.floor(Math.log10(Math.abs(step)) + 1e-9)));
  return value.toFixed(decimals);
}

/** Where a phase is drawn on the epoch axis, where training of epoch e spans (e - 1, e]: a span covers
 * start - 1 .. end; a moment (e.g. the prior initialised before epoch 9) sits at start - 1, between the
 * two epochs. Clipped to the axis; null when it falls outside it. */
export function phaseExtent(phase: Phase, axis: Domain): { from: number; to: number } | null {
  const from = Math.max(axis[0], phase.start - 1);
  const to = Math.min(axis[1], phase.kind === "moment" ? phase.start - 1 : phase.end);
  if (!Number.isFinite(from) || !Number.isFinite(to) || to < from || from > axis[1] || to < axis[0]) return null;
  return { from, to };
}

/** The value a series has at ``epoch`` (null when it logged none there). */
export function valueAt(points: { x: number; y: number }[], epoch: number): number | null {
  const p = points.find((q) => q.x === epoch);
  return p && Number.isFinite(p.y) ? p.y : null;
}

/** The epoch nearest to a fractional x among the epochs a chart has points at. */
export function nearestEpoch(epochs: number[], x: number): number | null {
  let best: number | null = null;
  for (const e of epochs) if (best === null || Math.abs(e - x) < Math.abs(best - x)) best = e;
  return best;
}
