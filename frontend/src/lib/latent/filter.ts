// Search and filter on the map: "label:4 pred:9" (the 4s the classifier calls 9), "comp:2", "idx:123"
// or a bare number (a dataset index, also "#123"). Terms combine with AND; a term may list values (any of
// them matches: "label:3,5,8") and may be negated with "!" before the values or the key ("pred:!4",
// "!label:7": everything except those). So "label:4 pred:!4" is "the fours the classifier gets wrong".
// A term that cannot be parsed is reported with its position in the text.

export type FilterKey = "idx" | "label" | "predicted" | "component";

export interface FilterClause {
  key: FilterKey;
  values: Set<number>;
  negate: boolean;
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
};

const SHORT: Record<FilterKey, string> = { idx: "idx", label: "label", predicted: "pred", component: "comp" };

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
      if (!m) return fail("not a filter: write label:4, pred:!9, comp:2, #123 or a dataset index", start, raw);
      key = ALIASES[m[1].toLowerCase()];
      values = m[2];
      if (!key) return fail(`unknown filter "${m[1]}": use label, pred, comp or idx`, start, raw);
    }
    if (values.startsWith("!")) {
      if (negate) return fail(`"!" twice: write ${SHORT[key]}:!3 or !${SHORT[key]}:3`, start, raw);
      negate = true;
      values = values.slice(1);
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
  indices: number[];
  labels: number[];
  predicted?: number[] | null;
  component?: number[] | null;
}

/** Subset positions matching every clause; null when the filter is empty (everything matches). A clause
 * on a column the file lacks matches nothing (``unavailableKey`` says why). */
export function matchFilter(f: PointFilter, p: FilterablePoints): Set<number> | null {
  if (f.error || f.clauses.length === 0) return null;
  const column: Record<FilterKey, number[] | null | undefined> = {
    idx: p.indices, label: p.labels, predicted: p.predicted, component: p.component,
  };
  const hits = new Set<number>();
  for (let i = 0; i < p.indices.length; i++) {
    if (f.clauses.every((c) => {
      const values = column[c.key];
      return values !== null && values !== undefined && c.values.has(values[i]) !== c.negate;
    })) hits.add(i);
  }
  return hits;
}

/** Why a filter key cannot apply to this run (a column the projection file lacks), or null. */
export function unavailableKey(f: PointFilter, p: FilterablePoints): string | null {
  const keys = new Set(f.clauses.map((c) => c.key));
  if (keys.has("predicted") && !p.predicted) return "this model has no classifier, so there are no predictions to filter by";
  if (keys.has("component") && !p.component) return "this model has no mixture components to filter by";
  return null;
}

/** The filter in words, for the match count ("label is 4 and pred is not 4"). */
export function describeFilter(f: PointFilter): string {
  return f.clauses.map((c) => {
    const values = [...c.values].join(", ");
    const verb = c.values.size > 1 ? (c.negate ? "is none of" : "is one of") : (c.negate ? "is not" : "is");
    return `${SHORT[c.key]} ${verb} ${values}`;
  }).join(" and ");
}
