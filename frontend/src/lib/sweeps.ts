// Pure helpers of the sweep view: member labels, grouping over seeds, colours by a parameter.
import type { SweepMember } from "@/lib/api";

export type Metrics = Record<string, number>;

export const shortName = (field: string) => field.split(".").pop() ?? field;

export const valueText = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));

/** The value a member has for a parameter ("seed" is the run seed). */
export function paramOf(m: SweepMember, param: string): unknown {
  return param === "seed" ? m.seed : (m.params as Record<string, unknown>)[param];
}

/** The metrics members report, accuracy and loss first. */
export function metricNames(members: SweepMember[]): string[] {
  const names = new Set<string>();
  for (const m of members) for (const k of Object.keys((m.final ?? {}) as Metrics)) if (k !== "epoch") names.add(k);
  const rank = (k: string) => (k === "heldout_accuracy" ? 0 : k === "loss" ? 1 : k === "heldout_loss" ? 2 : 3);
  return [...names].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

export const higherIsBetter = (metric: string) => metric.includes("accuracy");

export function meanStd(values: number[]): { mean: number; std: number; n: number } {
  const n = values.length;
  const mean = n ? values.reduce((a, b) => a + b, 0) / n : NaN;
  const std = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
}

/** Members with the same parameters (differing only in seed), in first-seen order. */
export function groupBySetting(members: SweepMember[]): { key: string; params: Record<string, unknown>; members: SweepMember[] }[] {
  const groups = new Map<string, { key: string; params: Record<string, unknown>; members: SweepMember[] }>();
  for (const m of members) {
    const key = JSON.stringify(m.params);
    if (!groups.has(key)) groups.set(key, { key, params: m.params as Record<string, unknown>, members: [] });
    groups.get(key)!.members.push(m);
  }
  return [...groups.values()];
}

const PALETTE = ["#3157d5", "#d9730d", "#1f7a4a", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#b7950b", "#2c3e50", "#e84393"];

/** One colour per distinct value of the parameter, in sorted order (numbers numerically). */
export function colourScale(members: SweepMember[], param: string): { colour: (m: SweepMember) => string; legend: [string, string][] } {
  const values = [...new Set(members.map((m) => valueText(paramOf(m, param))))];
  values.sort((a, b) => (Number.isFinite(Number(a)) && Number.isFinite(Number(b)) ? Number(a) - Number(b) : a.localeCompare(b)));
  const of = new Map(values.map((v, i) => [v, PALETTE[i % PALETTE.length]]));
  return { colour: (m) => of.get(valueText(paramOf(m, param))) ?? PALETTE[0], legend: values.map((v) => [v, of.get(v)!]) };
}

/** The launch form's sweep lines, `field=v1,v2` one per line (each value JSON when it parses, a JSON
 *  list after `=[`), as a grid; an error names the line that does not parse. */
export function parseGrid(text: string): { grid: Record<string, unknown[]>; error?: string } {
  const grid: Record<string, unknown[]> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.indexOf("=");
    const field = line.slice(0, at).trim();
    const rest = line.slice(at + 1).trim();
    if (at < 1 || !field || !rest) return { grid, error: `"${line}": write field=value1,value2 (e.g. model_options.latent_dim=2,8)` };
    const parse = (v: string) => { try { return JSON.parse(v); } catch { return v; } };
    if (rest.startsWith("[")) {
      const list = parse(rest);
      if (!Array.isArray(list)) return { grid, error: `"${line}": not a JSON list of values` };
      grid[field] = list;
    } else {
      grid[field] = rest.split(",").map((v) => parse(v.trim()));
    }
  }
  return { grid };
}

export function parseSeeds(text: string): unknown[] {
  return text.split(",").map((s) => s.trim()).filter(Boolean).map((s) => (Number.isFinite(Number(s)) ? Number(s) : s));
}

export interface HeldGroup {
  /** the other varied fields' values this group holds fixed ("" when there are none) */
  held: string;
  x: unknown;
  values: number[];
}

/** Members grouped by ``param``'s value with every other varied field held fixed (one group per value and
 * setting of the others), so a mean ± sd is over seeds only and never pools another field. When ``param``
 * is the seed itself, the groups are per setting of the others across seeds. */
export function heldGroups(members: SweepMember[], param: string, params: string[], value: (m: SweepMember) => number | undefined): HeldGroup[] {
  const others = params.filter((p) => p !== param && p !== "seed");
  const groups = new Map<string, HeldGroup>();
  for (const m of members) {
    const y = value(m);
    if (y === undefined || !Number.isFinite(y)) continue;
    const held = others.map((p) => `${shortName(p)}=${valueText(paramOf(m, p))}`).join(", ");
    const x = paramOf(m, param);
    const key = `${held}\u0000${valueText(x)}`;
    if (!groups.has(key)) groups.set(key, { held, x, values: [] });
    groups.get(key)!.values.push(y);
  }
  return [...groups.values()];
}

/** What a ParamVsMetric bar averages over, in words. */
export function poolingText(param: string, params: string[]): string {
  const others = params.filter((p) => p !== param && p !== "seed").map(shortName);
  if (param === "seed") return others.length ? `one line per setting of ${others.join(", ")}, one point per seed` : "one point per seed";
  return others.length ? `bar: mean ± sd over seeds with ${others.join(", ")} held fixed (one line per setting)` : "bar: mean ± sd over seeds";
}
