import { useEffect, useState } from "react";
import type { MouseEvent } from "react";
import { Empty, ErrorBox } from "@latentdeck/view-kit";
import type { Compute } from "@latentdeck/view-kit";
import { num } from "./payloads";
import type { ConvStepPayload, ForwardPayload, InspectPayload, KernelsPayload, LayerListing, LayerRow, PerturbPayload, TopkPayload } from "./payloads";
import { Img, url, useNetwork } from "./NetworkCommon";
import type { Params } from "./NetworkCommon";
import s from "./network.module.css";

/** The network page's detail panels for the chosen layer and channel: channel map with probe, one conv
 *  step by hand, kernels, top-K activations, and a latent perturbation. */

export function ChannelPanel({ runId, compute, epoch, idx, layer, channel, probe, onProbe, listing, onPick }: {
  runId: string; compute: Compute; epoch: number; idx: number; layer: LayerRow; channel: number; probe: { x: number; y: number } | null;
  onProbe: (p: { x: number; y: number }) => void; listing: LayerListing; onPick: (id: string, ch: number) => void;
}) {
  const spatial = layer.kind === "spatial";
  const params = spatial ? { epoch, idx, layer: layer.id, ch: channel, ...(probe ?? {}) } : null;
  const inspect = useNetwork<InspectPayload>(compute, "inspect", params);
  const p = inspect.payload;
  const folder = inspect.artifact?.folder;
  const onMap = (e: MouseEvent<HTMLDivElement>) => {
    if (!p) return;
    const rect = e.currentTarget.getBoundingClientRect();
    const x = Math.min(p.shape[1] - 1, Math.max(0, Math.floor(((e.clientX - rect.left) / rect.width) * p.shape[1])));
    const y = Math.min(p.shape[0] - 1, Math.max(0, Math.floor(((e.clientY - rect.top) / rect.height) * p.shape[0])));
    onProbe({ x, y });
  };
  const rf = p?.rf;
  return (
    <section className="panel" data-testid="net-channel">
      <div className={s.panelHead}>
        <h2>Channel {channel} of <span className="mono">{layer.id}</span></h2>
        <span className="muted small">{layer.type} · {layer.shape.join("×")}</span>
      </div>
      {!spatial ? (
        <Empty title={`${layer.id} is a vector layer.`}>
          Channels belong to spatial layers; pick one such as{" "}
          <button type="button" className="btn ghost" onClick={() => onPick(listing.layers.find((l) => l.kind === "spatial")!.id, 0)}>
            {listing.layers.find((l) => l.kind === "spatial")?.id}
          </button>
        </Empty>
      ) : inspect.error ? <ErrorBox title="Inspection failed.">{inspect.error.detail}</ErrorBox> : !p || !folder ? <p className="muted">Computing channel {channel}…</p> : (
        <>
          <div className={s.maps}>
            <figure className={s.figure}>
              <div className={s.mapBox} onClick={onMap} data-testid="net-channel-map" title="click to probe a position">
                <Img className={s.pixel} src={url(runId, folder, "channel.png")} alt={`channel ${channel} activation`} />
                {p.xy ? <span className={s.probe} style={box(p.xy.x, p.xy.y, p.xy.x, p.xy.y, p.shape)} /> : null}
              </div>
              <figcaption><span>activation {p.shape.join("×")}</span><span>click to probe</span></figcaption>
            </figure>
            <figure className={s.figure}>
              <div className={s.mapBox} onClick={onMap}>
                <Img className={s.pixel} src={url(runId, folder, "overlay.png")} alt="activation over the input" />
                {rf && rf.status === "ok" ? <span className={s.rf} data-testid="net-rf" style={box(rf.bounds.x0, rf.bounds.y0, rf.bounds.x1, rf.bounds.y1, rf.input_shape)} /> : null}
              </div>
              <figcaption><span>over the input</span><span>{rf && rf.status === "ok" ? "receptive field" : ""}</span></figcaption>
            </figure>
          </div>
          <dl className={s.facts} data-testid="net-probe">
            <dt>range</dt><dd>{num(p.stats.min)} … {num(p.stats.max)} (mean {num(p.stats.mean)})</dd>
            <dt>strongest</dt><dd>{num(p.argmax.value)} at x {p.argmax.x}, y {p.argmax.y}</dd>
            {p.xy ? <><dt>probe</dt><dd><b>{num(p.xy.value)}</b> at x {p.xy.x}, y {p.xy.y}</dd></> : null}
            {rf ? (
              <>
                <dt>receptive field</dt>
                <dd>{rf.status === "ok"
                  ? <>x {rf.bounds.x0}–{rf.bounds.x1}, y {rf.bounds.y0}–{rf.bounds.y1} of the input (a {rf.size[1]}×{rf.size[0]} field{rf.clamped ? ", clamped at the border" : ""})</>
                  : <span className="muted">unavailable: {rf.reason}</span>}</dd>
              </>
            ) : <><dt>receptive field</dt><dd className="muted">{p.rf_support.status === "ok" ? `${p.rf_support.size?.[1]}×${p.rf_support.size?.[0]} pixels; click the map to place it` : `unavailable: ${p.rf_support.reason}`}</dd></>}
          </dl>
        </>
      )}
    </section>
  );
}

/** CSS box (percent) for cells x0..x1, y0..y1 of a (h, w) map. */
function box(x0: number, y0: number, x1: number, y1: number, shape: [number, number]) {
  const [h, w] = shape;
  return { left: `${(100 * x0) / w}%`, top: `${(100 * y0) / h}%`, width: `${(100 * (x1 - x0 + 1)) / w}%`, height: `${(100 * (y1 - y0 + 1)) / h}%` };
}

/** A matrix cell in six characters at most: three decimals, or two significant digits when tiny. */
function cell(v: number): string {
  if (v === 0) return "0";
  return Math.abs(v) < 0.001 || Math.abs(v) >= 100 ? v.toExponential(0) : v.toFixed(3);
}

function Matrix({ title, values, padded, testId }: { title: string; values: number[][]; padded?: boolean[]; testId?: string }) {
  return (
    <div data-testid={testId}>
      <div className={s.matTitle}>{title}</div>
      <div className={s.mat}>
        {values.flat().map((v, i) => (
          <span key={i} className={padded?.[i] ? s.padded : undefined} title={padded?.[i] ? "zero padding" : String(v)}>{cell(v)}</span>
        ))}
      </div>
    </div>
  );
}

export function ConvStepPanel({ compute, epoch, idx, layer, channel, probe, listing, onPick }: {
  compute: Compute; epoch: number; idx: number; layer: LayerRow; channel: number; probe: { x: number; y: number } | null;
  listing: LayerListing; onPick: (id: string, ch: number) => void;
}) {
  const conv1 = listing.layers.find((l) => l.conv1_like);
  const where = useNetwork<InspectPayload>(compute, "inspect", layer.conv1_like && !probe ? { epoch, idx, layer: layer.id, ch: channel } : null);
  const at = probe ?? (where.payload ? { x: where.payload.argmax.x, y: where.payload.argmax.y } : null);
  const step = useNetwork<ConvStepPayload>(compute, "conv-step", layer.conv1_like && at ? { epoch, idx, layer: layer.id, out: channel, x: at.x, y: at.y } : null);
  const p = step.payload;
  return (
    <section className="panel" data-testid="net-convstep">
      <div className={s.panelHead}>
        <h2>One conv step</h2>
        {p ? <span className="muted small">output channel {p.out_channel} at x {p.x}, y {p.y}{probe ? "" : " (the strongest position; click the map to move)"}</span> : null}
      </div>
      {!layer.conv1_like ? (
        <Empty title="The arithmetic of one neuron is shown for the first convolution.">
          {conv1 ? <>It reads the image directly (1 input channel, 3×3 kernel):{" "}
            <button type="button" className="btn" onClick={() => onPick(conv1.id, channel < conv1.channels ? channel : 0)} data-testid="net-goto-conv1">inspect {conv1.id}</button></>
            : "This model has no such layer."}
        </Empty>
      ) : step.error ? <ErrorBox title="The conv step failed.">{step.error.detail}</ErrorBox> : !p ? <p className="muted">Computing…</p> : (
        <>
          <div className={s.arith}>
            <Matrix title="input patch" values={p.input_patch} padded={p.patch_padded} />
            <span className={s.op}>⊙</span>
            <Matrix title="kernel" values={p.kernel} />
            <span className={s.op}>=</span>
            <Matrix title="products" values={p.products} testId="net-products" />
          </div>
          <ul className={s.chain} data-testid="net-conv-chain">
            <li><span>Σ products</span><code>sum of the 9 products</code><b>{num(p.pre_bias_sum, 6)}</b></li>
            <li><span>+ bias</span><code>{p.has_bias ? "the channel's bias" : "no bias (batch norm follows)"}</code><b>{num(p.bias, 6)}</b></li>
            <li><span>= by hand</span><code>conv output</code><b>{num(p.value_computed, 6)}</b></li>
            <li><span>model</span><code>captured from the forward pass</code>
              <b className={p.agree ? s.agree : s.disagree} data-testid="net-conv-agree">{num(p.value_captured, 6)} {p.agree ? "✓ agree" : "✗ differ"}</b></li>
            {p.activation.steps.map((st) => (
              <li key={st.layer_id}><span>{st.type}</span><code>{st.formula}</code>
                <b className={Math.abs(st.value_computed - st.value_captured) <= p.tolerance ? undefined : s.disagree}>{num(st.value_computed, 6)}</b></li>
            ))}
          </ul>
          <p className="muted small" style={{ marginBottom: 0 }}>
            {p.activation.mode.replaceAll("->", "→")} · |hand − model| = {num(p.abs_diff, 2)} (tolerance {p.tolerance}) · faded cells are zero padding
          </p>
        </>
      )}
    </section>
  );
}

function kernelLayerFor(layer: LayerRow, layers: LayerRow[]): LayerRow | null {
  if (layer.has_kernels) return layer;
  if (layer.kind !== "spatial") return null;
  const before = layers.filter((l) => l.order < layer.order).reverse();
  for (const l of before) {
    if (l.has_kernels) return l.channels === layer.channels && l.shape.join() === layer.shape.join() ? l : null;
    if (l.type !== "BatchNorm2d" && !/ReLU|Sigmoid|Tanh|Dropout|GELU|SiLU|ELU|Identity/.test(l.type)) return null;
  }
  return null;
}

export function KernelsPanel({ runId, compute, epoch, layer, channel, listing }: { runId: string; compute: Compute; epoch: number; layer: LayerRow; channel: number; listing: LayerListing }) {
  const source = kernelLayerFor(layer, listing.layers);
  const k = useNetwork<KernelsPayload>(compute, "kernels", source ? { epoch, layer: source.id, out: channel } : null);
  const folder = k.artifact?.folder;
  const p = k.payload;
  return (
    <section className="panel" data-testid="net-kernels">
      <div className={s.panelHead}>
        <h2>Kernel</h2>
        {source ? <span className="muted small"><span className="mono">{source.id}</span> → channel {channel}{source.id !== layer.id ? " (the convolution feeding this layer)" : ""}</span> : null}
      </div>
      {!source ? <Empty title="No convolution feeds this layer directly.">Kernels belong to Conv2d layers and the batch norm and activations that follow them.</Empty>
        : k.error ? <ErrorBox title="Kernel failed.">{k.error.detail}</ErrorBox> : !p || !folder ? <p className="muted">Loading…</p>
        : p.kind === "single" ? (
          <div className={s.kernels}>
            <figure className={s.figure}><Img className={`${s.pixel} ${s.kernelImg}`} src={url(runId, folder, "kernel.png")} alt="kernel" /><figcaption><span>3×3 weights</span></figcaption></figure>
            <Matrix title="weights" values={p.kernel.values} />
            <p className="muted small">bias {p.kernel.bias === null ? "none (batch norm follows)" : num(p.kernel.bias)} · blue negative, red positive</p>
          </div>
        ) : (
          <>
            <div className={s.kernels}>
              <figure className={s.figure}><Img className={`${s.pixel} ${s.kernelImg}`} src={url(runId, folder, "kernel_agg.png")} alt="kernel strength" /><figcaption><span>strength (L2 over {p.kernel_agg.in_channels} inputs)</span></figcaption></figure>
              {p.top_in_channels.top.map((t) => (
                <figure key={t.in_channel} className={s.figure}>
                  <Img className={`${s.pixel} ${s.smallKernel}`} src={url(runId, folder, `kernel_in_${t.in_channel}.png`)} alt={`input channel ${t.in_channel}`} />
                  <figcaption><span>in {t.in_channel}</span><span>‖w‖ {num(t.l2, 3)}</span></figcaption>
                </figure>
              ))}
            </div>
            <p className="muted small" style={{ marginBottom: 0 }}>The strongest input channels by the L2 norm of their 3×3 slice; slices share one blue–red scale.</p>
          </>
        )}
    </section>
  );
}

export function TopkPanel({ runId, compute, epoch, layer, channel, listing, onOpen }: {
  runId: string; compute: Compute; epoch: number; layer: LayerRow; channel: number; listing: LayerListing; onOpen: (idx: number) => void;
}) {
  const maxN = Math.min(listing.heldout_size, listing.max_topk_subset);
  const [metric, setMetric] = useState<"max" | "mean">("max");
  const [n, setN] = useState(Math.min(2000, maxN));
  const [asked, setAsked] = useState<Params | null>(null);
  const wanted = { epoch, layer: layer.id, ch: channel, metric, n, k: 12 };
  const current = asked && JSON.stringify(asked) === JSON.stringify(wanted) ? asked : null;
  const top = useNetwork<TopkPayload>(compute, "topk", current);
  const folder = top.artifact?.folder;
  const p = top.payload;
  return (
    <section className="panel" data-testid="net-topk">
      <div className={s.panelHead}><h2>Top activations</h2><span className="muted small">which held-out digits excite channel {channel} of <span className="mono">{layer.id}</span> most</span></div>
      {layer.kind !== "spatial" ? <Empty title="Top-K scans a spatial layer's channel.">Pick a convolutional layer above.</Empty> : (
        <>
          <div className={s.inline}>
            <div><label className="small muted" htmlFor="topk-metric">score</label><br />
              <select id="topk-metric" value={metric} onChange={(e) => setMetric(e.target.value as "max" | "mean")}><option value="max">max over positions</option><option value="mean">mean over positions</option></select></div>
            <div><label className="small muted" htmlFor="topk-n">scan examples 0..n−1</label><br />
              <input id="topk-n" type="number" min={1} max={maxN} value={n} onChange={(e) => setN(Math.max(1, Math.min(maxN, Number(e.target.value) || 1)))} /></div>
            <button type="button" className="btn primary" onClick={() => setAsked(wanted)} disabled={top.loading || current !== null} data-testid="net-topk-run">
              {top.loading ? "Scanning…" : current ? "Scanned" : "Find top 12"}</button>
          </div>
          {top.error ? <ErrorBox title="Top-K failed.">{top.error.detail}</ErrorBox> : null}
          {p && folder ? (
            <>
              <div className={s.topk} data-testid="net-topk-items">
                {p.items.map((item) => (
                  <button key={item.dataset_idx} type="button" className={s.topkItem} onClick={() => onOpen(item.dataset_idx)} title={`open example ${item.dataset_idx}`}>
                    <div className={s.topkImg}>
                      <Img src={url(runId, folder, item.input)} alt={`held-out ${item.dataset_idx}`} />
                      {item.xy ? <span className={s.dot} style={{ left: `${(100 * (item.xy.x + 0.5)) / p.shape[1]}%`, top: `${(100 * (item.xy.y + 0.5)) / p.shape[0]}%` }} /> : null}
                    </div>
                    <div className={s.topkMeta}><span>#{item.dataset_idx} · {item.label}</span><b>{num(item.score, 3)}</b></div>
                  </button>
                ))}
              </div>
              <p className="muted small" style={{ marginBottom: 0 }}>{p.metric === "max" ? "dots mark where the channel peaks · " : ""}{p.subset_n} examples scanned{top.artifact?.created ? ` in ${Math.round(p.compute_ms)} ms` : " (from disk)"} · click one to open it</p>
            </>
          ) : null}
        </>
      )}
    </section>
  );
}

export function PerturbPanel({ runId, compute, epoch, idx, fwd, folder }: { runId: string; compute: Compute; epoch: number; idx: number; fwd: ForwardPayload; folder: string | null }) {
  const keys = fwd.latent.decodable;
  const [key, setKey] = useState(keys[0] ?? "");
  const [dim, setDim] = useState(0);
  // the slider moves in standard deviations of the dimension over the visualization subset (the server states
  // the spread with its first answer for this vector and dimension); files written before give latent units
  const [delta, setDelta] = useState(0);
  const [settled, setSettled] = useState(0);
  const [spread, setSpread] = useState<{ at: string; sd: number | null } | null>(null);
  const vector = fwd.latent.vectors[key] ?? [];
  const d = Math.min(dim, Math.max(0, vector.length - 1));
  const here = `${epoch}/${idx}/${key}/${d}`;
  const sd = spread?.at === here ? spread.sd : undefined; // undefined: not known yet; null: the file does not say
  const unit = sd ? sd : 1;
  const asked = Number((settled * unit).toPrecision(4));
  useEffect(() => {
    const t = window.setTimeout(() => setSettled(delta), 120);
    return () => window.clearTimeout(t);
  }, [delta]);
  const res = useNetwork<PerturbPayload>(compute, "perturb", key && (sd !== undefined || settled === 0) ? { epoch, idx, key, dim: d, delta: asked } : null);
  const shown = res.payload ?? res.last;
  const direction = shown && shown.vector_key === key && shown.dim === d ? shown.direction : undefined;
  if (res.payload && spread?.at !== here && res.payload.vector_key === key && res.payload.dim === d) {
    setSpread({ at: here, sd: res.payload.direction && res.payload.direction.sd > 0 ? res.payload.direction.sd : null });
  }
  if (!keys.length) return null;
  const units = sd ? "sd" : "";
  return (
    <section className="panel" data-testid="net-perturb">
      <div className={s.panelHead}><h2>Perturb a latent dimension</h2><span className="muted small">decode the vector with one coordinate moved</span></div>
      <div className={s.perturb}>
        <figure className={s.figure}>
          {folder && fwd.recon ? <Img className={`${s.pixel} ${s.big}`} src={url(runId, folder, fwd.recon)} alt="base reconstruction" /> : null}
          <figcaption><span>base</span></figcaption>
        </figure>
        <figure className={`${s.figure} ${res.loading ? s.busy : ""}`}>
          {res.lastArtifact ? <Img className={`${s.pixel} ${s.big}`} src={url(runId, res.lastArtifact.folder, "recon.png")} alt="perturbed reconstruction" data-testid="net-perturb-img" />
            : <div className={s.big} />}
          <figcaption data-testid="net-perturb-caption"><span>{shown ? `${shown.vector_key}[${shown.dim}] ${num(shown.base_value, 3)} → ${num(shown.new_value, 3)} (Δ ${shown.delta > 0 ? "+" : ""}${shown.delta})` : "…"}</span></figcaption>
        </figure>
        <div className={s.controls}>
          <div className={s.inline}>
            <div><label htmlFor="perturb-key">vector</label><br />
              <select id="perturb-key" value={key} onChange={(e) => { setKey(e.target.value); setDelta(0); setSettled(0); }}>{keys.map((k) => <option key={k} value={k}>{k}</option>)}</select></div>
            <div><label htmlFor="perturb-dim">dimension</label><br />
              <select id="perturb-dim" value={d} onChange={(e) => { setDim(Number(e.target.value)); setDelta(0); setSettled(0); }}>
                {vector.map((v, i) => <option key={i} value={i}>{i} ({num(v, 3)})</option>)}
              </select></div>
          </div>
          <div>
            <label htmlFor="perturb-delta">delta</label>{" "}
            {sd ? <span className="muted small">in standard deviations of {key}[{d}] over the visualization subset (1 sd = {num(sd, 3)})</span>
              : sd === null ? <span className="muted small">in latent units (this file predates the spread)</span> : null}
            <div className={s.slider}>
              <span className="mono small">−3{units}</span>
              <input id="perturb-delta" type="range" min={-3} max={3} step={0.25} value={delta} disabled={sd === undefined}
                onChange={(e) => setDelta(Number(e.target.value))} data-testid="net-perturb-slider" data-sd={sd ?? ""} />
              <span className="mono small">+3{units}</span>
              <b className="mono" style={{ minWidth: "6.5rem", textAlign: "right" }} data-testid="net-perturb-delta" data-delta={Number((delta * unit).toPrecision(4))}>
                {delta > 0 ? "+" : ""}{delta}{units}{sd ? ` = ${delta * sd > 0 ? "+" : ""}${num(delta * sd, 3)}` : ""}</b>
            </div>
          </div>
          {direction ? <p className={`small ${direction.ignored ? "" : "muted"}`} style={{ margin: 0, color: direction.ignored ? "var(--warn)" : undefined }}
            data-testid="net-perturb-direction" data-ignored={String(direction.ignored)}>{direction.ignored ? <b>Ignored direction: </b> : null}{direction.text}.</p> : null}
          {res.error ? <ErrorBox title="Perturbation failed.">{res.error.detail}</ErrorBox> : null}
          <p className="muted small" style={{ margin: 0 }}>{shown ? shown.decode_path : ""}{shown?.sample_id ? ` · noise ${shown.sample_id}` : ""} · delta 0 reproduces the base reconstruction exactly</p>
        </div>
      </div>
    </section>
  );
}
