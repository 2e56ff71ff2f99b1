// Search and filter on the map: "label:4 pred:9" (the 4s the classifier calls 9), "comp:2", "idx:123"
// or a bare number (a dataset index, also "#123"). Terms combine with AND; a term may list values (any of
// them matches: "label:3,5,8") and may be negated with "!" before the values or the key ("pred:!4",
// "!label:7": everything except those). So "label:4 pred:!4" is "the fours the classifier gets wrong".
// Confidence (max q(c|x) or max softmax, from the reconstruction thumbnail sheet) takes ranges: "conf:<0.5",
// "conf:>=0.9", "conf:0.5-0.8" (0.5 <= conf < 0.8; a range that reaches 1 includes 1), several with commas.
// A term that cannot be parsed is reported with its position in the text.

export type FilterKey = "idx" | "label" | "predicted" | "component" | "confidence";

/** A range of confidence; ``text`` is its canonical spelling ("0.5-0.8", "<0.5"). */
export interface ConfidenceRange {
  min: number;
  max: number;
  minIncluded: boolean;
  maxIncluded: boolean;
  text: string;
}

export interface FilterClause {
  key: FilterKey;
  values: Set<number>; // empty for confidence, which has ranges
  negate: boolean;
  ranges?: ConfidenceRange[];
}

export interface PointFilter {
  clauses: FilterClause[];
  error: string | null;
  /** [start, end) character range of the term the error is about */
  errorAt: [number, number] | null;
}

const ALIASES: Record<string, FilterKey> = {
  idx: "idx", index: "idx", "#": "idx",
  label: "label", l: "label", digit: "label",
  pred: "predicted", predicted: "predicted", prediction: "predicted", p: "predicted",
  comp: "component", component: "component", c: "component",
  conf: "confidence", confidence: "confidence",
};

export const SHORT: Record<FilterKey, string> = { idx: "idx", label: "label", predicted: "pred", component: "comp", confidence: "conf" };

const CONF_HINT = "conf takes ranges between 0 and 1: conf:<0.5, conf:>=0.9, conf:0.5-0.8 (several with commas)";
const DECIMAL = String.raw`(?:\d+(?:\.\d*)?|\.\d+)`;

/** One confidence range ("<0.5", ">=0.9", "0.5-0.8"), or null when it is not one. */
export function parseRange(text: string): ConfidenceRange | null {
  const bound = new RegExp(`^(<=|>=|<|>)(${DECIMAL})$`).exec(text);
  const span = new RegExp(`^(${DECIMAL})-(${DECIMAL})$`).exec(text);
  const ok = (x: number) => Number.isFinite(x) && x >= 0 && x <= 1;
  if (bound) {
    const x = Number(bound[2]), op = bound[1];
    if (!ok(x)) return null;
    return op.startsWith("<")
      ? { min: -Infinity, max: x, minIncluded: false, maxIncluded: op === "<=", text: `${op}${x}` }
      : { min: x, max: Infinity, minIncluded: op === ">=", maxIncluded: false, text: `${op}${x}` };
  }
  if (span) {
    const a = Number(span[1]), b = Number(span[2]);
    if (!ok(a) || !ok(b) || a >= b) return null;
    // confidence never exceeds 1, so a range that reaches 1 keeps everything above its start
    return { min: a, max: b >= 1 ? Infinity : b, minIncluded: true, maxIncluded: false, text: `${a}-${b}` };
  }
  return null;
}

export function inRange(v: number, r: ConfidenceRange): boolean {
  return (r.minIncluded ? v >= r.min : v > r.min) && (r.maxIncluded ? v <= r.max : v < r.max);
}

function fail(message: string, start: number, raw: string): PointFilter {
  const where = `at character ${start + 1}`;
  return { clauses: [], error: `${message} (${where}: "${raw}")`, errorAt: [start, start + raw.length] };
}

export function parseFilter(text: string): PointFilter {
  const clauses: FilterClause[] = [];
  for (const token of text.matchAll(/\S+/g)) {
    const raw = token[0], start = token.index ?? 0;
    let body = raw, negate = false;
    if (body.startsWith("!")) {
      negate = true;
      body = body.slice(1);
    }
    let key: FilterKey | undefined, values: string;
    const hash = /^#(.*)$/.exec(body);
    if (hash) {
      key = "idx";
      values = hash[1];
    } else if (/^\d/.test(body)) {
      key = "idx";
      values = body;
    } else {
      const m = /^([a-z#]+):(.*)$/i.exec(body);
      if (!m) return fail("not a filter: write label:4, pred:!9, comp:2, conf:<0.5, #123 or a dataset index", start, raw);
      key = ALIASES[m[1].toLowerCase()];
      values = m[2];
      if (!key) return fail(`unknown filter "${m[1]}": use label, pred, comp, conf or idx`, start, raw);
    }
    if (values.startsWith("!")) {
      if (negate) return fail(`"!" twice: write ${SHORT[key]}:!3 or !${SHORT[key]}:3`, start, raw);
      negate = true;
      values = values.slice(1);
    }
    if (key === "confidence") {
      const ranges = values.split(",").map(parseRange);
      if (!values || ranges.some((r) => r === null)) return fail(CONF_HINT, start, raw);
      clauses.push({ key, values: new Set(), negate, ranges: ranges as ConfidenceRange[] });
      continue;
    }
    const numbers = values.split(",");
    if (!values || numbers.some((v) => !/^\d+$/.test(v))) {
      return fail(`${SHORT[key]} takes whole numbers (several with commas: ${SHORT[key]}:3,5; all but some: ${SHORT[key]}:!3,5)`, start, raw);
    }
    clauses.push({ key, values: new Set(numbers.map(Number)), negate });
  }
  return { clauses, error: null, errorAt: null };
}

export interface FilterablePoints {
  indices: ArrayLike<number>;
  labels: ArrayLike<number>;
  predicted?: ArrayLike<number> | null;
  component?: ArrayLike<number> | null;
  /** max q(c|x) or max softmax per point (the reconstruction thumbnail sheet of the same epoch) */
  confidence?: ArrayLike<number> | null;
}

function holds(c: FilterClause, v: number): boolean {
  return (c.ranges ? c.ranges.some((r) => inRange(v, r)) : c.values.has(v)) !== c.negate;
}

/** Subset positions matching every clause; null when the filter is empty (everything matches). A clause
 * on a column the file lacks matches nothing (``unavailableKey`` says why). */
export function matchFilter(f: PointFilter, p: FilterablePoints): Set<number> | null {
  if (f.error || f.clauses.length === 0) return null;
  const column: Record<FilterKey, ArrayLike<number> | null | undefined> = {
    idx: p.indices, label: p.labels, predicted: p.predicted, component: p.component, confidence: p.confidence,
  };
  const hits = new Set<number>();
  for (let i = 0; i < p.indices.length; i++) {
    if (f.clauses.every((c) => {
      const values = column[c.key];
      return values !== null && values !== undefined && Number.isFinite(values[i]) && holds(c, values[i]);
    })) hits.add(i);
  }
  return hits;
}

/** Why a filter key cannot apply to this run (a column the projection file lacks), or null. */
export function unavailableKey(f: PointFilter, p: FilterablePoints): string | null {
  const keys = new Set(f.clauses.map((c) => c.key));
  if (keys.has("predicted") && !p.predicted) return "this model has no classifier, so there are no predictions to filter by";
  if (keys.has("component") && !p.component) return "this model has no components to filter by";
  if (keys.has("confidence") && !p.confidence) {
    return "no confidence at this epoch to filter by: it is read from the reconstruction thumbnails (max q(c|x) or max softmax), which this epoch or model lacks";
  }
  return null;
}

/** The filter in words, for the match count ("label is 4 and pred is not 4"). */
export function describeFilter(f: PointFilter): string {
  return f.clauses.map((c) => {
    if (c.ranges) {
      const ranges = c.ranges.map(rangeWords).join(" or ");
      return c.negate ? `not (${ranges})` : ranges;
    }
    const values = [...c.values].join(", ");
    const verb = c.values.size > 1 ? (c.negate ? "is none of" : "is one of") : (c.negate ? "is not" : "is");
    return `${SHORT[c.key]} ${verb} ${values}`;
  }).join(" and ");
}

/** "0.5 ≤ conf < 0.8", "conf < 0.5", "conf ≥ 0.9". */
function rangeWords(r: ConfidenceRange): string {
  const low = r.min === -Infinity ? "" : `${r.min} ${r.minIncluded ? "≤" : "<"} `;
  if (r.max === Infinity) return low ? `conf ${r.minIncluded ? "≥" : ">"} ${r.min}` : "any conf";
  return `${low}conf ${r.maxIncluded ? "≤" : "<"} ${r.max}`;
}
