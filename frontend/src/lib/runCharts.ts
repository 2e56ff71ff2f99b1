// Which charts the run page draws from the `train.metrics` events: one per logged part (train and
// held-out together), the loss weights the loss actually applied each epoch, the models' diagnostics,
// and which of them belong to options that are off (hidden behind the page's "inactive" toggle).
import type { Phase } from "./phases";
import type { Metrics } from "./runState";

const META = new Set(["epoch", "epochs", "lr", "epoch_seconds", "loss_weights", "threads", "device"]);

/** Diagnostics that repeat an applied loss weight (the GM-VAE's kld_c weight ÷ kld_weight, and its entropy
 * bonus, the qc_usage_entropy weight with the sign flipped): the loss-weights chart shows them already. */
const REPEATS_A_LOSS_WEIGHT = new Set(["cat_kl_weight", "entropy_bonus_weight"]);

export const LOSS_WEIGHTS = "loss_weights";
const WEIGHT_PREFIX = `${LOSS_WEIGHTS}.`;

export interface ChartSeries {
  label: string;
  key: string; // a metric, or "loss_weights.<component>"
  /** 0 in every epoch: an option that is off (drawn only when the page shows inactive series) */
  inactive?: boolean;
}

export interface ChartSpec {
  key: string;
  title: string;
  series: ChartSeries[];
  /** every series is inactive: the whole chart is hidden unless the page shows inactive charts */
  inactive?: boolean;
}

// Metrics drawn together in one chart, with titles a learner can read (the diagnostics of models with components).
const GROUPS: ChartSpec[] = [
  { key: "components_in_use", title: "components in use (effective number, of K)",
    series: [{ label: "by mean weight", key: "qc_neff" }, { label: "by assignment", key: "qc_argmax_neff" }] },
];
const TITLES: Record<string, string> = {
  qc_pmax: "share of the most used component",
  qc_entropy_mean: "mean assignment entropy H(q(c|x)), nats",
};

/** A metric's value in one epoch's metrics (``loss_weights.<component>`` reads the applied weight). */
export function metricValue(m: Metrics, key: string): number | null {
  const v = key.startsWith(WEIGHT_PREFIX)
    ? (m.loss_weights as Record<string, unknown> | undefined)?.[key.slice(WEIGHT_PREFIX.length)]
    : m[key];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** A series' points over epochs (epochs where it logged no number are left out). */
export function seriesPoints(metrics: Metrics[], key: string): { x: number; y: number }[] {
  return metrics.flatMap((m) => {
    const y = metricValue(m, key);
    return y === null ? [] : [{ x: m.epoch, y }];
  });
}

/** Whether a series of zeros means "off" yet: not while a phase that ends before the run does is current
 * (pretraining holds weights at 0 until it ends) or a phase is still to come; always once the run ended. */
function canJudgeOff(metrics: Metrics[], phases: Phase[], plannedEpochs: number | null, ended: boolean): boolean {
  if (ended) return true;
  const latest = metrics.length ? metrics[metrics.length - 1].epoch : 0;
  const planned = plannedEpochs ?? Infinity;
  return !phases.some((p) => p.start > latest || (p.kind === "span" && p.start <= latest && latest <= p.end && p.end < planned));
}

function offThroughout(metrics: Metrics[], key: string): boolean {
  let seen = false;
  for (const m of metrics) {
    const v = metricValue(m, key);
    if (v === null) continue;
    if (v !== 0) return false;
    seen = true;
  }
  return seen;
}

function loggedKeys(metrics: Metrics[]): { keys: string[]; weights: string[] } {
  const keys: string[] = [];
  const weights: string[] = [];
  for (const m of metrics) {
    for (const [k, v] of Object.entries(m)) {
      if (!META.has(k) && !keys.includes(k) && (typeof v === "number" || v === null)) keys.push(k);
    }
    const w = m.loss_weights;
    if (w && typeof w === "object") {
      for (const [k, v] of Object.entries(w)) if (typeof v === "number" && !weights.includes(k)) weights.push(k);
    }
  }
  return { keys, weights };
}

/** One chart per logged part: train and held-out side by side; the applied loss weights in one chart;
 * diagnostics get their own charts. Series that are 0 in every epoch (judged once no phase may still switch
 * them on) are marked inactive, and a chart whose series all are. */
export function chartSpecs(metrics: Metrics[], opts: { phases?: Phase[]; plannedEpochs?: number | null; ended?: boolean } = {}): ChartSpec[] {
  const { keys, weights } = loggedKeys(metrics);
  const seen = new Set(keys);
  const specs: ChartSpec[] = [];
  const used = new Set<string>();
  for (const group of GROUPS) {
    const present = group.series.filter((x) => seen.has(x.key));
    if (!present.length) continue;
    specs.push({ ...group, series: present });
    present.forEach((x) => used.add(x.key));
  }
  if (weights.length) {
    specs.push({ key: LOSS_WEIGHTS, title: "loss weights applied (loss = Σ weight × part)",
      series: weights.map((w) => ({ label: w, key: WEIGHT_PREFIX + w })) });
    REPEATS_A_LOSS_WEIGHT.forEach((k) => used.add(k));
  }
  for (const k of keys) {
    if (used.has(k) || k.startsWith("heldout_")) continue;
    const base = k.replace(/^train_/, "");
    const held = `heldout_${base}`;
    const series = [{ label: k in TITLES ? "held-out" : "train", key: k }]; // TITLES: held-out diagnostics
    if (seen.has(held)) {
      series.push({ label: "held-out", key: held });
      used.add(held);
    }
    used.add(k);
    specs.push({ key: base, title: TITLES[base] ?? base.replace(/_/g, " "), series });
  }
  for (const k of keys) {
    if (!used.has(k)) specs.push({ key: k, title: TITLES[k] ?? k.replace(/_/g, " "), series: [{ label: "held-out", key: k }] });
  }
  const judge = canJudgeOff(metrics, opts.phases ?? [], opts.plannedEpochs ?? null, opts.ended ?? false);
  const marked = specs.map((spec) => {
    if (!judge || spec.key === "loss" || spec.key === "accuracy") return spec;
    const series = spec.series.map((s) => (offThroughout(metrics, s.key) ? { ...s, inactive: true } : s));
    return { ...spec, series, inactive: series.every((s) => s.inactive) || undefined };
  });
  // the total loss first, accuracy next, then the weights that make the loss, parts and diagnostics in logged order
  const rank = (s: ChartSpec) => (s.key === "loss" ? 0 : s.key === "accuracy" ? 1 : s.key === LOSS_WEIGHTS ? 2 : GROUPS.some((g) => g.key === s.key) ? 4 : 3);
  return marked.sort((a, b) => rank(a) - rank(b));
}

/** "3 charts and 1 loss weight of options that are off": what the page's inactive toggle hides. */
export function inactiveSummary(specs: ChartSpec[]): { charts: number; series: number; text: string } {
  const charts = specs.filter((s) => s.inactive).length;
  const series = specs.filter((s) => !s.inactive).reduce((n, s) => n + s.series.filter((x) => x.inactive).length, 0);
  const parts = [charts ? `${charts} chart${charts === 1 ? "" : "s"}` : "", series ? `${series} series` : ""].filter(Boolean);
  return { charts, series, text: parts.length ? `${parts.join(" and ")} of options that are off (0 in every epoch)` : "" };
}
