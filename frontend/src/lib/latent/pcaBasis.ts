// Which axes a PCA file shows, in words for the explorer: this epoch's own principal axes, or the basis
// carried from an earlier epoch and aligned to this epoch's codes (the pca plugin's `params.basis`), and
// the share of the latent variance the shown axes keep. Reads persisted fields only.
import type { ProjectionDoc } from "./points";

/** `params.basis` of a PCA file (latentdeck_pca.schema.PCABasis); absent in files written before it. */
export interface PcaBasis {
  source: "own" | "carried";
  carried_for: number | null;
  /** the epoch whose own principal axes these are (files written since the host passes the epoch to fit) */
  from_epoch?: number | null;
  variance_ratio: number;
  own_variance_ratio: number;
  min_variance_share: number | null;
  pull?: number | null;
  carried_variance_ratio?: number | null;
}

export function pcaBasisOf(doc: ProjectionDoc): PcaBasis | null {
  const basis = doc.params?.basis as PcaBasis | undefined;
  if (doc.method !== "pca" || !basis || (basis.source !== "own" && basis.source !== "carried")) return null;
  return Number.isFinite(basis.variance_ratio) && Number.isFinite(basis.own_variance_ratio) ? basis : null;
}

/** The epoch whose own principal axes a carried basis comes from: the file's `from_epoch`, or for older files
 * `carried_for` projected epochs before this one in `epochs` (this method's and dims' projected epochs);
 * null when that cannot be told. */
export function basisEpoch(doc: ProjectionDoc, epochs: number[]): number | null {
  const basis = pcaBasisOf(doc);
  if (!basis) return null;
  if (basis.source === "own") return doc.epoch;
  if (typeof basis.from_epoch === "number") return basis.from_epoch;
  const sorted = [...epochs].sort((a, b) => a - b);
  const at = sorted.indexOf(doc.epoch);
  const back = basis.carried_for;
  return back !== null && back > 0 && at - back >= 0 ? sorted[at - back] : null;
}

const pct = (ratio: number) => `${(100 * ratio).toFixed(1)}%`;

/** The sentence under "how faithful is this map?"; null for files that are not PCA. */
export function pcaVarianceText(doc: ProjectionDoc, epochs: number[]): string | null {
  const basis = pcaBasisOf(doc);
  const evr = doc.explained_variance_ratio;
  if (!basis) {
    return evr && doc.method === "pca"
      ? `PCA keeps ${pct(evr.reduce((a, b) => a + b, 0))} of the latent variance in these ${doc.dims} axes.`
      : null;
  }
  const axes = `these ${doc.dims} axes keep ${pct(basis.variance_ratio)} of the latent variance`;
  const floor = basis.min_variance_share !== null ? pct(basis.min_variance_share) : null;
  const plain = basis.carried_variance_ratio;
  if (basis.source === "own") {
    const replaced = plain != null && floor
      ? ` The axes carried until the previous epoch would keep only ${pct(plain)}, and no turn toward this epoch's `
        + `axes kept ${floor} of their variance, so the map takes this epoch's own axes here (it may turn).`
      : "";
    return `PCA basis of this epoch (epoch ${doc.epoch}): ${axes}.${replaced}`;
  }
  const from = basisEpoch(doc, epochs);
  const origin = from !== null ? `PCA basis of epoch ${from}` : "PCA basis of an earlier epoch";
  const turned = basis.pull && floor ? ` and turned toward this epoch's own axes to keep ${floor} of their variance` : "";
  const own = `this epoch's own principal axes would keep ${pct(basis.own_variance_ratio)}`;
  const detail = turned && plain != null
    ? `; without the turn ${pct(plain)}`
    : floor ? `; kept so the map does not reshuffle, while it keeps at least ${floor} of that` : "";
  return `${origin}, aligned to this epoch's codes${turned}: ${axes} (${own}${detail}).`;
}
