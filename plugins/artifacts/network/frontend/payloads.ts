// Payloads of the network inspection computations (the `payload` of their OnDemandResult, a free-form object
// in the OpenAPI schema). Field names follow the plugin's README.md; the view only draws them.

/** The operations of the plugin's on-demand computations: `network-<kind>`. */
export type NetworkKind = "layers" | "forward" | "inspect" | "conv-step" | "kernels" | "perturb" | "topk";

/** One layer of the listing (the payload of network-layers). */
export interface LayerRow {
  id: string; module: string; type: string; shape: number[]; kind: "spatial" | "vector"; order: number;
  channels: number; params: Record<string, unknown>; conv1_like: boolean; has_kernels: boolean;
}
export interface LayerListing {
  epoch: number; epochs: number[]; model: string; input_shape: number[]; heldout_size: number;
  max_topk_subset: number; max_topk_k: number; layers: LayerRow[];
}

export interface Stats { min: number; max: number; mean: number; std?: number }
export interface Scale { colormap: "sequential" | "diverging"; min: number; max: number }
export interface GridLayout { cols: number; rows: number; tile: [number, number]; pad: number; size: [number, number] }
export interface VectorLayout { cols: number; rows: number }

export interface LayerSummary {
  image: "grid.png" | "vector.png";
  layout: GridLayout | VectorLayout;
  stats: Stats;
  scale: Scale;
  channel_max?: number[];
  channel_mean?: number[];
  values?: number[] | null;
}

export interface ForwardPayload {
  meta: { model: string; epoch: number; index: number; label: number; layer_count: number; sample_id: string | null; compute_ms: number };
  latent: { vectors: Record<string, number[]>; decodable: string[]; latent_name: string };
  layers: (LayerRow & { summary: LayerSummary })[];
  input_shape: number[];
  input: string;
  recon: string | null;
}

export interface Bounds { x0: number; y0: number; x1: number; y1: number }
export type ReceptiveField =
  | { status: "ok"; bounds: Bounds; unclamped: Bounds; clamped: boolean; size: [number, number]; input_shape: [number, number] }
  | { status: "unavailable"; reason: string };

/** inspect.json of one channel: its answer's folder is `.../layer_<L>/ch_<c>/`, or with a probe the sibling
 *  `.../layer_<L>/ch_<c>_probe_x_<x>_y_<y>/`, whose inspect.json adds `xy` and `rf`; both hold channel.png,
 *  heat_rgba.png and overlay.png (the view reads them from the answer's `folder`, never builds the path). */
export interface InspectPayload {
  layer_id: string;
  type: string;
  channel: number;
  channels: number;
  shape: [number, number];
  input_shape: [number, number];
  values: number[][];
  stats: Stats;
  argmax: { x: number; y: number; value: number };
  rf_support: { status: string; reason?: string; size?: [number, number] };
  xy?: { x: number; y: number; value: number };
  rf?: ReceptiveField;
}

export interface ConvStepPayload {
  layer_id: string;
  out_channel: number;
  x: number;
  y: number;
  input_patch: number[][];
  patch_padded: boolean[];
  kernel: number[][];
  products: number[][];
  pre_bias_sum: number;
  bias: number;
  has_bias: boolean;
  value_computed: number;
  value_captured: number;
  abs_diff: number;
  tolerance: number;
  agree: boolean;
  activation: {
    mode: string;
    steps: { layer_id: string; type: string; formula: string; value_computed: number; value_captured: number }[];
    final_computed: number;
    final_captured: number;
  };
}

export type KernelsPayload =
  | { kind: "single"; kernel: { values: number[][]; bias: number | null; scale: Scale; in_channels: number } }
  | {
      kind: "aggregate";
      kernel_agg: { values: number[][]; in_channel_l2: number[]; scale: Scale; in_channels: number; bias: number | null };
      top_in_channels: { top: { in_channel: number; l2: number; values: number[][] }[]; scale: Scale };
    };

export interface PerturbPayload {
  vector_key: string;
  dim: number;
  delta: number;
  delta_tag: string;
  base_value: number;
  new_value: number;
  decode_path: string;
  sample_id: string | null;
  /** the dimension on its own scale, and whether the decoder uses it (absent in files written before) */
  direction?: { sd: number; sd_over: string; sweep: number; sweep_sd: number; relative_change: number; ignored: boolean; text: string };
}

export interface TopkItem { rank: number; dataset_idx: number; label: number; score: number; xy?: { x: number; y: number }; input: string }
export interface TopkPayload { items: TopkItem[]; metric: "max" | "mean"; subset_n: number; k: number; shape: [number, number]; compute_ms: number }

/** A number for a table cell: 4 significant digits, no exponent for ordinary magnitudes. */
export function num(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (value === 0) return "0";
  const abs = Math.abs(value);
  if (abs < 1e-3 || abs >= 1e5) return value.toExponential(2);
  return Number(value.toPrecision(digits)).toString();
}
