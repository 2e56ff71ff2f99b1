// Search and filter on the map: "label:4 pred:9" (the 4s the classifier calls 9), "comp:2", "idx:123"
// or a bare number (a dataset index). Terms combine with AND; each key may list values: "label:3,5,8".

export type FilterKey = "idx" | "label" | "predicted" | "component";

export interface PointFilter {
  terms: Partial<Record<FilterKey, Set<number>>>;
  error: string | null;
}

const ALIASES: Record<string, FilterKey> = {
  idx: "idx", index: "idx", "#": "idx",
  label: "label", l: "label", digit: "label",
  pred: "predicted", predicted: "predicted", prediction: "predicted", p: "predicted",
  comp: "component", component: "component", c: "component",
};

export function parseFilter(text: string): PointFilter {
  const terms: PointFilter["terms"] = {};
  for (const raw of text.trim().split(/\s+/).filter(Boolean)) {
    let key: FilterKey | undefined, values: string;
    const hash = /^#(\d+)$/.exec(raw);
    if (hash) {
      key = "idx";
      values = hash[1];
    } else if (/^\d+$/.test(raw)) {
      key = "idx";
      values = raw;
    } else {
      const m = /^([a-z#]+):(.*)$/i.exec(raw);
      if (!m) return { terms: {}, error: `"${raw}" is not a filter: write label:4, pred:9, comp:2, idx:123 or a dataset index` };
      key = ALIASES[m[1].toLowerCase()];
      values = m[2];
      if (!key) return { terms: {}, error: `unknown filter "${m[1]}": use label, pred, comp or idx` };
    }
    const numbers = values.split(",").filter((v) => v !== "");
    if (!numbers.length || numbers.some((v) => !/^\d+$/.test(v))) {
      return { terms: {}, error: `"${raw}": ${key} takes whole numbers (several with commas: ${key}:3,5)` };
    }
    const set = terms[key] ?? new Set<number>();
    numbers.forEach((v) => set.add(Number(v)));
    terms[key] = set;
  }
  return { terms, error: null };
}

export interface FilterablePoints {
  indices: number[];
  labels: number[];
  predicted?: number[] | null;
  component?: number[] | null;
}

/** Subset positions matching every term; null when the filter is empty (everything matches). */
export function matchFilter(f: PointFilter, p: FilterablePoints): Set<number> | null {
  const keys = Object.keys(f.terms) as FilterKey[];
  if (f.error || keys.length === 0) return null;
  const column: Record<FilterKey, number[] | null | undefined> = {
    idx: p.indices, label: p.labels, predicted: p.predicted, component: p.component,
  };
  const hits = new Set<number>();
  for (let i = 0; i < p.indices.length; i++) {
    if (keys.every((k) => column[k] !== null && column[k] !== undefined && f.terms[k]!.has(column[k]![i]))) hits.add(i);
  }
  return hits;
}

/** Why a filter key cannot apply to this run (a column the projection file lacks), or null. */
export function unavailableKey(f: PointFilter, p: FilterablePoints): string | null {
  if (f.terms.predicted && !p.predicted) return "this model has no classifier, so there are no predictions to filter by";
  if (f.terms.component && !p.component) return "this model has no mixture components to filter by";
  return null;
}
