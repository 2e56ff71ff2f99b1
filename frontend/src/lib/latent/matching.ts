// Matched component colours: a model's component (the GM-VAE's) takes the colour of the digit the run's
// cluster-scores file (role "cluster-scores", SPEC.md "Explorer roles") matched it to (Hungarian matching), so
// "coloured by component" and "coloured by label" read alike when the components follow the digits. The
// matching is chosen once per page from one epoch's file and kept while the page is open: colours never
// reshuffle while the timeline plays. Components without a digit (K > classes, or a component that holds no
// digits) take neutral colours that no digit uses. Pure functions of the persisted file.
import { categoryColour, hexToRgb } from "./colour";
import type { RGB } from "./colour";

/** One component's row of the file's `component_matching`. */
export interface ComponentMatch {
  component: number;
  digit: number | null;
  count: number;
  correct: number;
  purity: number | null;
}

/** What the explorer reads of a cluster-scores file; its provider's own fields (its scores, for its view)
 * come along untyped. */
export interface ClusterScores {
  epoch: number;
  /** one row per component, or null when there is nothing to match (no components, no labels) */
  component_matching?: ComponentMatch[] | null;
  note?: string; // no usable labels: why there are no scores
  [field: string]: unknown;
}

/** The component rows of a file: its `component_matching`, or (a file written before that field) the rows
 * of whichever of its sections holds a `matching` list. */
function matchingRows(quality: ClusterScores): ComponentMatch[] | null {
  if ("component_matching" in quality) return Array.isArray(quality.component_matching) ? quality.component_matching : null;
  for (const section of Object.values(quality)) {
    const rows = section && typeof section === "object" ? (section as { matching?: unknown }).matching : undefined;
    if (Array.isArray(rows)) return rows as ComponentMatch[];
  }
  return null;
}

/** How components are coloured and named on this page. */
export interface ComponentMapping {
  epoch: number; // the epoch whose matching is used
  digitOf: Map<number, number>; // matched components only (a component holding no digits is left out)
  rowOf: Map<number, ComponentMatch>;
  neutralOf: Map<number, number>; // unmatched component -> index into NEUTRAL_PALETTE
}

// Neutral colours for unmatched components: near-black and two dark browns, each at least 11 CIEDE2000
// from every digit colour in normal and colour-blind vision (the unit tests check it).
export const NEUTRAL_PALETTE: readonly string[] = ["#1b1b1b", "#4a3f2f", "#7a6a52"];
const NEUTRAL_RGB = NEUTRAL_PALETTE.map(hexToRgb);

/** The mapping of one cluster-scores file, or null when it matches no components. */
export function mappingOf(quality: ClusterScores | null): ComponentMapping | null {
  const matching = quality ? matchingRows(quality) : null;
  if (!quality || !matching) return null;
  const digitOf = new Map<number, number>();
  const rowOf = new Map<number, ComponentMatch>();
  const neutralOf = new Map<number, number>();
  const rows = [...matching].sort((a, b) => a.component - b.component);
  for (const row of rows) {
    rowOf.set(row.component, row);
    if (row.digit !== null && row.count > 0) digitOf.set(row.component, row.digit);
    else neutralOf.set(row.component, neutralOf.size % NEUTRAL_RGB.length);
  }
  return { epoch: quality.epoch, digitOf, rowOf, neutralOf };
}

/** A component's colour: its matched digit's, a neutral one when unmatched, today's palette without a mapping. */
export function componentColour(mapping: ComponentMapping | null, c: number): RGB {
  if (!mapping) return categoryColour(c);
  const digit = mapping.digitOf.get(c);
  if (digit !== undefined) return categoryColour(digit);
  return NEUTRAL_RGB[mapping.neutralOf.get(c) ?? 0];
}

const digitName = (d: number, classes: string[]) => classes[d] ?? String(d);

/** Short name: "c4 → 1", "c4 (unmatched)", or "c4" without a mapping. */
export function componentName(mapping: ComponentMapping | null, c: number, classes: string[]): string {
  if (!mapping) return `c${c}`;
  const digit = mapping.digitOf.get(c);
  return digit !== undefined ? `c${c} → ${digitName(digit, classes)}` : `c${c} (unmatched)`;
}

export const percent = (x: number) => `${Math.round(100 * x)} %`;

/** Legend text: "c4 → 1 (purity 96 %)", "c7 (unmatched: holds no digits)", "c11 (unmatched: K > classes)". */
export function componentLegend(mapping: ComponentMapping | null, c: number, classes: string[]): string {
  if (!mapping) return `c${c}`;
  const row = mapping.rowOf.get(c);
  const digit = mapping.digitOf.get(c);
  if (digit !== undefined) return row?.purity != null ? `${componentName(mapping, c, classes)} (purity ${percent(row.purity)})` : componentName(mapping, c, classes);
  if (!row || row.count === 0) return `c${c} (unmatched: holds no digits)`;
  return `c${c} (unmatched: no digit left for it)`;
}

/** Components ordered by matched digit (then unmatched ones by number). */
export function byMatchedDigit(mapping: ComponentMapping | null, components: number[]): number[] {
  const key = (c: number) => mapping?.digitOf.get(c) ?? Infinity;
  return [...components].sort((a, b) => key(a) - key(b) || a - b);
}

/** One sentence that says where the colours come from (``quality``: the file the mapping was read from). */
export function mappingNote(mapping: ComponentMapping | null, quality: ClusterScores | null, runId: string): string {
  if (mapping) return `colours matched at epoch ${mapping.epoch}: each component takes the colour of the digit it holds under a one-to-one matching`;
  if (!quality) return `colours not matched (no cluster file: run latentdeck backfill ${runId})`;
  return `colours not matched: ${quality.note ?? `the cluster file of epoch ${quality.epoch} matches no components`}`;
}
