// Cross-filter histograms (as embedding explorers draw them): counts of label, prediction, component and
// confidence over the map's points, each split into the points that are selected (match the search
// and lie in the focus) and all of them; and the search-box edits a click on a bar makes. A bar's click
// writes a term into the filter text, so the filter is always what the search box says.
import { SHORT, parseFilter, parseRange } from "./filter";
import type { FilterClause, FilterKey, FilterablePoints } from "./filter";
import type { ProjectionDoc, SheetDoc } from "./points";

export type ChartKey = "label" | "predicted" | "component" | "confidence";

export interface Bar {
  /** the value as the filter writes it: "4" for a category, "0.9-1" for a confidence bin */
  term: string;
  total: number;
  /** how many of them are selected (equal to total when nothing is selected) */
  selected: number;
}

/** The selected points: those matching the filter and in the focus (either may be absent); null: none chosen. */
export function selectionOf(matched: ReadonlySet<number> | null, focus: ReadonlySet<number> | null): Set<number> | null {
  if (!matched && !focus) return null;
  if (!matched) return new Set(focus);
  if (!focus) return new Set(matched);
  return new Set([...matched].filter((i) => focus.has(i)));
}

/** One bar per value of a categorical column, ordered by value (or by ``order`` when given). */
export function categoryBars(column: ArrayLike<number>, selected: ReadonlySet<number> | null, order?: (values: number[]) => number[]): Bar[] {
  const total = new Map<number, number>(), chosen = new Map<number, number>();
  for (let i = 0; i < column.length; i++) {
    const v = column[i];
    total.set(v, (total.get(v) ?? 0) + 1);
    if (!selected || selected.has(i)) chosen.set(v, (chosen.get(v) ?? 0) + 1);
  }
  const values = [...total.keys()].sort((a, b) => a - b);
  return (order ? order(values) : values).map((v) => ({ term: String(v), total: total.get(v)!, selected: chosen.get(v) ?? 0 }));
}

/** Which tenth of [0, 1] a confidence falls in, 0..9 (1 itself in the last); the same edges as the filter's ranges. */
export function tenthOf(v: number): number {
  let k = Math.floor(v * 10);
  if (v < k / 10) k -= 1; // v * 10 rounded up past an edge
  if (k < 9 && v >= (k + 1) / 10) k += 1;
  return Math.min(Math.max(k, 0), 9);
}

/** Confidence in bins a tenth wide, from the tenth holding ``floor`` (a uniform guess, 1 / classes) up to 1;
 * each bin's term is the range the filter reads ("0.3-0.4", the last "0.9-1", which includes 1). */
export function confidenceBars(values: ArrayLike<number>, floor: number, selected: ReadonlySet<number> | null): Bar[] {
  const total = new Array<number>(10).fill(0), chosen = new Array<number>(10).fill(0);
  let first = tenthOf(floor);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) continue;
    const k = tenthOf(values[i]);
    first = Math.min(first, k);
    total[k]++;
    if (!selected || selected.has(i)) chosen[k]++;
  }
  const bars: Bar[] = [];
  for (let k = first; k < 10; k++) bars.push({ term: `${k / 10}-${(k + 1) / 10}`, total: total[k], selected: chosen[k] });
  return bars;
}

/** Each point's confidence from the reconstruction thumbnail sheet of the same epoch (max q(c|x), else max softmax),
 * with the uniform guess it starts from; null when the sheet is missing or lists other points. */
export function confidenceColumn(doc: ProjectionDoc, sheet: SheetDoc | null): { values: ArrayLike<number>; floor: number; source: string } | null {
  if (!sheet || sheet.n !== doc.n) return null;
  if (sheet.indices && sheet.indices.some((x, i) => x !== doc.indices[i])) return null;
  if (sheet.qc_max && sheet.qc?.cols) return { values: sheet.qc_max, floor: 1 / sheet.qc.cols, source: "max q(c|x)" };
  if (sheet.softmax_max) return { values: sheet.softmax_max, floor: sheet.softmax?.cols ? 1 / sheet.softmax.cols : 0.1, source: "max softmax" };
  return null;
}

/** The points the filter reads: the projection file's columns and the confidence from the reconstruction sheet. */
export function filterablePoints(doc: ProjectionDoc, sheet: SheetDoc | null): FilterablePoints {
  return { ...doc, confidence: confidenceColumn(doc, sheet)?.values ?? null };
}

// --- the filter text a bar click writes ---------------------------------------------------------------

interface Token { raw: string; clause: FilterClause | null }

function tokensOf(text: string): Token[] {
  return [...text.matchAll(/\S+/g)].map((m) => {
    const f = parseFilter(m[0]);
    return { raw: m[0], clause: f.error ? null : f.clauses[0] ?? null };
  });
}

/** A clause's values as the filter writes them ("4", "0.5-0.8"), in its order. */
function termsOf(c: FilterClause): string[] {
  return c.ranges ? c.ranges.map((r) => r.text) : [...c.values].map(String);
}

/** The term a bar's value is written as (a range in canonical spelling: "0.30-0.4" is "0.3-0.4"). */
function canonical(key: ChartKey, term: string): string {
  return key === "confidence" ? parseRange(term)?.text ?? term : String(Number(term));
}

export interface TermState {
  /** values named by a clause that keeps them ("label:4,7") */
  chosen: Set<string>;
  /** values named by a clause that drops them ("label:!4") */
  dropped: Set<string>;
}

/** Which of a key's values the filter text names, to mark bars (terms that do not parse are ignored). */
export function termState(text: string, key: ChartKey): TermState {
  const state: TermState = { chosen: new Set(), dropped: new Set() };
  for (const t of tokensOf(text)) {
    if (t.clause?.key !== key) continue;
    for (const v of termsOf(t.clause)) (t.clause.negate ? state.dropped : state.chosen).add(v);
  }
  return state;
}

const write = (key: FilterKey, negate: boolean, terms: string[]) => `${SHORT[key]}:${negate ? "!" : ""}${terms.join(",")}`;

/** The filter text after a click on the bar ``term`` of ``key``. A plain click on a bar a clause keeps removes
 * it from that clause; on any other bar it replaces the key's clauses with ``key:term``. ``add`` (shift or
 * ctrl): the value goes into, or out of, the key's (last) clause, which keeps its sign ("label:4" → "label:4,7";
 * "label:!4" → "label:!4,7"). A clause left with no values is removed; other terms stay as typed. */
export function toggleTerm(text: string, key: ChartKey, term: string, add: boolean): string {
  const value = canonical(key, term);
  const tokens = tokensOf(text);
  const mine = tokens.map((t, i) => (t.clause?.key === key ? i : -1)).filter((i) => i >= 0);
  const keeping = mine.find((i) => !tokens[i].clause!.negate && termsOf(tokens[i].clause!).includes(value));
  const naming = mine.find((i) => termsOf(tokens[i].clause!).includes(value));
  const out = tokens.map((t) => t.raw as string | null);
  const edit = (i: number) => {
    const c = tokens[i].clause!;
    const terms = termsOf(c);
    const next = terms.includes(value) ? terms.filter((v) => v !== value) : [...terms, value];
    out[i] = next.length ? write(c.key, c.negate, next) : null;
  };
  if (keeping !== undefined) edit(keeping);
  else if (add && mine.length) edit(naming ?? mine[mine.length - 1]);
  else if (mine.length) {
    mine.forEach((i) => { out[i] = null; });
    out[mine[0]] = write(key, false, [value]);
  } else out.push(write(key, false, [value]));
  return out.filter((t): t is string => t !== null).join(" ");
}
