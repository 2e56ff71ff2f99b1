"use client";
import Link from "next/link";
import { useEffect, useState } from "react";
import type { ImgHTMLAttributes, MouseEvent } from "react";
import { api, ApiError } from "@/lib/api";
import type { LayerListing, LayerRow, NetworkArtifact, NetworkKind } from "@/lib/api";
import { num } from "@/lib/network";
import type {
  ConvStepPayload, ForwardPayload, GridLayout, InspectPayload, KernelsPayload, PerturbPayload, TopkPayload,
} from "@/lib/network";
import { useRunId } from "@/lib/useRunId";
import { RunProblem, useRunDetail } from "./RunView";
import { Empty, ErrorBox, StatusBadge } from "./ui";
import s from "./NetworkView.module.css";

type Params = Record<string, string | number>;

const toApiError = (e: unknown) => (e instanceof ApiError ? e : new ApiError(0, String(e)));

/** One network folder from the API: computed on the first request, then read from disk. `last` keeps the
 *  previous answer while a new one loads (the perturbation slider stays steady). */
function useNetwork<T>(runId: string, kind: NetworkKind, params: Params | null) {
  const key = params ? JSON.stringify(params) : null;
  const [state, setState] = useState<{ key: string | null; data: NetworkArtifact | null; error: ApiError | null }>(
    { key: null, data: null, error: null });
  useEffect(() => {
    if (!key) return;
    let cancelled = false;
    api.network(runId, kind, JSON.parse(key) as Params).then(
      (data) => { if (!cancelled) setState({ key, data, error: null }); },
      (e: unknown) => { if (!cancelled) setState({ key, data: null, error: toApiError(e) }); },
    );
    return () => { cancelled = true; };
  }, [runId, kind, key]);
  const current = state.key === key;
  return {
    artifact: current ? state.data : null,
    payload: (current ? state.data?.payload ?? null : null) as T | null,
    last: (state.data?.payload ?? null) as T | null,
    lastArtifact: state.data,
    error: current ? state.error : null,
    loading: key !== null && !current,
  };
}

function readQuery(): { epoch?: number; idx?: number; layer?: string; ch?: number } {
  if (typeof window === "undefined") return {};
  const q = new URLSearchParams(window.location.search);
  const int = (name: string) => (q.get(name) !== null && /^\d+$/.test(q.get(name)!) ? Number(q.get(name)) : undefined);
  return { epoch: int("epoch"), idx: int("idx"), layer: q.get("layer") ?? undefined, ch: int("ch") };
}

/** The network page: one held-out example through the trained CNN, layer by layer, down to one neuron. */
export function NetworkView() {
  const runId = useRunId();
  return <NetworkViewFor key={runId ?? ""} runId={runId} />;
}

function NetworkViewFor({ runId }: { runId: string | null | undefined }) {
  const { detail, error } = useRunDetail(runId);
  const [listing, setListing] = useState<LayerListing | null>(null);
  const [listingError, setListingError] = useState<ApiError | null>(null);
  useEffect(() => {
    if (!runId || !detail) return;
    api.networkLayers(runId).then(setListing, (e: unknown) => setListingError(toApiError(e)));
  }, [runId, detail]);

  if (runId === undefined) return <p className="muted">Loading…</p>;
  if (runId === null || error) return <RunProblem runId={runId} error={error} />;
  if (!detail) return <p className="muted">Loading run {runId}…</p>;
  const head = (
    <div className="page-head">
      <div>
        <h1>Network <span className="mono muted" data-testid="run-title">{detail.summary.name || runId}</span></h1>
        <div className="run-meta">
          <StatusBadge status={detail.summary.status} />
          <span>model <b>{detail.summary.model}</b></span>
          <span>dataset <b>{detail.summary.dataset}</b></span>
          <span>{detail.summary.epochs_completed}/{detail.summary.epochs ?? "?"} epochs</span>
        </div>
      </div>
      <div className="inline-actions" style={{ display: "flex", gap: "0.5rem" }}>
        <Link href={`/runs/${encodeURIComponent(runId)}/`} className="btn">← Training view</Link>
        <Link href={`/runs/${encodeURIComponent(runId)}/latent/`} className="btn">Latent explorer</Link>
      </div>
    </div>
  );
  if (listingError) {
    return (
      <>
        {head}
        {listingError.status === 409 ? (
          <Empty title="No checkpoint yet.">The network can be inspected once the first epoch has finished and saved its checkpoint.</Empty>
        ) : <ErrorBox title="The network could not be inspected.">{listingError.detail}</ErrorBox>}
      </>
    );
  }
  if (!listing) return <>{head}<p className="muted">Reading the model’s layers…</p></>;
  return <>{head}<Inspector runId={runId} listing={listing} /></>;
}

function Inspector({ runId, listing }: { runId: string; listing: LayerListing }) {
  const [initial] = useState(readQuery);
  const defaultLayer = listing.layers.find((l) => l.conv1_like) ?? listing.layers.find((l) => l.kind === "spatial") ?? listing.layers[0];
  const [epoch, setEpoch] = useState<number>(initial.epoch !== undefined && listing.epochs.includes(initial.epoch) ? initial.epoch : listing.epoch);
  const [idx, setIdx] = useState<number>(Math.min(initial.idx ?? 0, listing.heldout_size - 1));
  const [idxDraft, setIdxDraft] = useState<string | null>(null); // typed but not a valid index yet
  const [layerId, setLayerId] = useState<string>(listing.layers.some((l) => l.id === initial.layer) ? initial.layer! : defaultLayer.id);
  const [channel, setChannel] = useState<number>(initial.ch ?? 0);
  const [probe, setProbe] = useState<{ x: number; y: number } | null>(null);
  const layer = listing.layers.find((l) => l.id === layerId) ?? defaultLayer;
  const ch = Math.min(channel, layer.channels - 1);

  useEffect(() => {
    const q = new URLSearchParams({ epoch: String(epoch), idx: String(idx), layer: layer.id, ch: String(ch) });
    window.history.replaceState(null, "", `${window.location.pathname}?${q.toString()}`);
  }, [epoch, idx, layer.id, ch]);

  const forward = useNetwork<ForwardPayload>(runId, "forward", { epoch, idx });
  const pick = (id: string, c: number) => { setLayerId(id); setChannel(c); setProbe(null); };
  const fwd = forward.payload ?? forward.last;

  return (
    <>
      <section className={`panel ${s.toolbar}`} data-testid="network-toolbar">
        <div>
          <label htmlFor="net-epoch">Epoch</label>
          <select id="net-epoch" value={epoch} onChange={(e) => { setEpoch(Number(e.target.value)); setProbe(null); }} data-testid="net-epoch">
            {listing.epochs.map((n) => <option key={n} value={n}>{n}{n === listing.epochs[listing.epochs.length - 1] ? " (latest)" : ""}</option>)}
          </select>
        </div>
        <div>
          <label htmlFor="net-idx">Held-out example</label>
          <span className={s.stepper}>
            <button type="button" className="btn" aria-label="previous example" disabled={idx <= 0} onClick={() => { setIdx(idx - 1); setProbe(null); }}>‹</button>
            <input id="net-idx" type="number" min={0} max={listing.heldout_size - 1} value={idxDraft ?? idx} data-testid="net-idx"
              aria-invalid={idxDraft !== null}
              onChange={(e) => {
                const v = Number(e.target.value);
                if (e.target.value !== "" && Number.isInteger(v) && v >= 0 && v < listing.heldout_size) { setIdx(v); setIdxDraft(null); setProbe(null); } else setIdxDraft(e.target.value);
              }}
              onBlur={() => setIdxDraft(null)} />
            <button type="button" className="btn" aria-label="next example" disabled={idx >= listing.heldout_size - 1} onClick={() => { setIdx(idx + 1); setProbe(null); }}>›</button>
          </span>
          {idxDraft !== null ? <div className={s.hint} data-testid="net-idx-hint">use 0..{listing.heldout_size - 1}</div> : null}
        </div>
        <div className="muted small">
          {fwd ? <>label <b>{fwd.meta.label}</b> · {fwd.meta.layer_count} layers · {forward.artifact?.created ? `computed in ${Math.round(fwd.meta.compute_ms)} ms` : "from disk"}</> : "…"}
          <div>index 0..{listing.heldout_size - 1} of the held-out split · input {listing.input_shape.join("×")}</div>
        </div>
      </section>

      {forward.error ? <ErrorBox title="The forward pass failed.">{forward.error.detail}</ErrorBox> : null}
      {fwd ? (
        <>
          <ExamplePanel runId={runId} artifact={forward.artifact} fwd={fwd} loading={forward.loading} />
          <LayersPanel runId={runId} folder={forward.artifact?.folder ?? null} fwd={fwd} selected={layer.id} channel={ch} onPick={pick} />
        </>
      ) : <section className="panel"><p className="muted">Running example {idx} through the network…</p></section>}

      <div className={s.panels}>
        <ChannelPanel runId={runId} epoch={epoch} idx={idx} layer={layer} channel={ch} probe={probe} onProbe={setProbe} listing={listing} onPick={pick} />
        <ConvStepPanel runId={runId} epoch={epoch} idx={idx} layer={layer} channel={ch} probe={probe} listing={listing} onPick={pick} />
      </div>
      <div className={s.panels}>
        <KernelsPanel runId={runId} epoch={epoch} layer={layer} channel={ch} listing={listing} />
        <TopkPanel runId={runId} epoch={epoch} layer={layer} channel={ch} listing={listing} onOpen={(i) => { setIdx(i); setProbe(null); }} />
      </div>
      {fwd ? <PerturbPanel key={`${epoch}-${idx}`} runId={runId} epoch={epoch} idx={idx} fwd={fwd} folder={forward.artifact?.folder ?? null} /> : null}
    </>
  );
}

/** A run file served by the API (next/image optimises static assets, not these). */
function Img({ alt, ...rest }: ImgHTMLAttributes<HTMLImageElement> & { alt: string }) {
  // eslint-disable-next-line @next/next/no-img-element -- a run artifact served by the API, not a static asset
  return <img alt={alt} {...rest} />;
}

const url = (runId: string, folder: string | null | undefined, name: string) => (folder ? api.artifactUrl(runId, `${folder}/${name}`) : "");

function ExamplePanel({ runId, artifact, fwd, loading }: { runId: string; artifact: NetworkArtifact | null; fwd: ForwardPayload; loading: boolean }) {
  const folder = artifact?.folder;
  return (
    <section className={`panel ${loading ? s.busy : ""}`} data-testid="net-example">
      <div className={s.panelHead}><h2>Example {fwd.meta.index}</h2><span className="muted small">eval mode · {fwd.latent.latent_name} is what the decoder reads</span></div>
      <div className={s.example}>
        <figure className={s.figure}>
          {folder ? <Img className={`${s.pixel} ${s.big}`} src={url(runId, folder, fwd.input)} alt={`held-out example ${fwd.meta.index}`} data-testid="net-input" /> : null}
          <figcaption><span>input</span><span>label {fwd.meta.label}</span></figcaption>
        </figure>
        <figure className={s.figure}>
          {folder && fwd.recon ? <Img className={`${s.pixel} ${s.big}`} src={url(runId, folder, fwd.recon)} alt="reconstruction" data-testid="net-recon" /> : <div className={`${s.big} muted small`}>no reconstruction</div>}
          <figcaption><span>reconstruction</span><span>epoch {fwd.meta.epoch}</span></figcaption>
        </figure>
        <div className={s.vectors} data-testid="net-vectors">
          {Object.entries(fwd.latent.vectors).map(([key, values]) => (
            <div key={key} className={s.vectorRow}>
              <span className="mono">{key} <span className="muted">({values.length})</span></span>
              <Bars values={values} />
            </div>
          ))}
          {fwd.meta.sample_id ? <span className="muted small">z_sample noise: <span className="mono">{fwd.meta.sample_id}</span> (the same at every epoch)</span> : null}
        </div>
      </div>
    </section>
  );
}

function Bars({ values }: { values: number[] }) {
  const width = 400;
  const height = 34;
  const top = Math.max(1e-9, ...values.map(Math.abs));
  const w = width / values.length;
  return (
    <svg viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img" aria-label={values.map((v) => num(v, 3)).join(", ")}>
      <line x1={0} x2={width} y1={height / 2} y2={height / 2} className={s.zero} />
      {values.map((v, i) => {
        const h = (Math.abs(v) / top) * (height / 2 - 1);
        return <rect key={i} x={i * w + w * 0.1} width={w * 0.8} y={v >= 0 ? height / 2 - h : height / 2} height={Math.max(h, 0.5)} className={v >= 0 ? s.barPos : s.barNeg}><title>{`[${i}] ${num(v)}`}</title></rect>;
      })}
    </svg>
  );
}

function LayersPanel({ runId, folder, fwd, selected, channel, onPick }: {
  runId: string; folder: string | null; fwd: ForwardPayload; selected: string; channel: number; onPick: (id: string, ch: number) => void;
}) {
  return (
    <section className="panel" data-testid="net-layers">
      <div className={s.panelHead}>
        <h2>Layers</h2>
        <span className="muted small">every channel of every layer for this example · click a channel to inspect it</span>
      </div>
      <div className={s.layers}>
        {fwd.layers.map((row) => {
          const on = row.id === selected;
          const image = url(runId, folder, `layer_${row.id}/${row.summary.image}`);
          return (
            <div key={row.id} role="button" tabIndex={0} className={`${s.layer} ${on ? s.layerOn : ""}`} data-testid={`layer-${row.id}`}
              onKeyDown={(e) => { if (e.key === "Enter") onPick(row.id, 0); }}
              onClick={(e) => {
                if (row.kind !== "spatial") return onPick(row.id, 0);
                const c = channelAt(e, row.summary.layout as GridLayout, row.channels);
                onPick(row.id, c ?? (on ? channel : 0));
              }}>
              <div className={s.layerHead}>
                <span className={s.layerId} title={row.module}>{row.id}</span>
                <span className={s.layerType}>{row.type}{row.conv1_like ? <span className={s.badge1}>conv1</span> : null}</span>
              </div>
              {folder ? (
                row.kind === "spatial" ? (
                  <div className={s.gridWrap} style={gridBox(row.summary.layout as GridLayout)}>
                    <Img className={s.gridImg} src={image} alt={`${row.id} channels`} />
                    {on ? <TileMark layout={row.summary.layout as GridLayout} channel={channel} /> : null}
                  </div>
                ) : <Img className={s.vectorImg} src={image} alt={`${row.id} values`} />
              ) : null}
              <span className={s.layerShape}>{row.shape.join("×")} · {num(row.summary.stats.min, 3)}…{num(row.summary.stats.max, 3)}</span>
            </div>
          );
        })}
      </div>
    </section>
  );
}

/** The grid's box keeps the PNG's aspect ratio before it loads, so a click maps to the right tile. */
function gridBox(layout: GridLayout | undefined): { aspectRatio?: string } {
  return layout?.size ? { aspectRatio: `${layout.size[1]} / ${layout.size[0]}` } : {};
}

function channelAt(e: MouseEvent<HTMLElement>, layout: GridLayout, channels: number): number | null {
  const img = (e.target as HTMLElement).closest(`.${s.gridWrap}`);
  if (!img) return null;
  const rect = img.getBoundingClientRect();
  const px = ((e.clientX - rect.left) / rect.width) * layout.size[1];
  const py = ((e.clientY - rect.top) / rect.height) * layout.size[0];
  const col = Math.floor((px - layout.pad / 2) / (layout.tile[1] + layout.pad));
  const row = Math.floor((py - layout.pad / 2) / (layout.tile[0] + layout.pad));
  const c = row * layout.cols + col;
  return col >= 0 && col < layout.cols && row >= 0 && c < channels ? c : null;
}

function TileMark({ layout, channel }: { layout: GridLayout; channel: number }) {
  const [H, W] = layout.size;
  const [th, tw] = layout.tile;
  const top = layout.pad + Math.floor(channel / layout.cols) * (th + layout.pad);
  const left = layout.pad + (channel % layout.cols) * (tw + layout.pad);
  return <span className={s.tileMark} style={{ top: `${(100 * top) / H}%`, left: `${(100 * left) / W}%`, width: `${(100 * tw) / W}%`, height: `${(100 * th) / H}%` }} />;
}

function ChannelPanel({ runId, epoch, idx, layer, channel, probe, onProbe, listing, onPick }: {
  runId: string; epoch: number; idx: number; layer: LayerRow; channel: number; probe: { x: number; y: number } | null;
  onProbe: (p: { x: number; y: number }) => void; listing: LayerListing; onPick: (id: string, ch: number) => void;
}) {
  const spatial = layer.kind === "spatial";
  const params = spatial ? { epoch, idx, layer: layer.id, ch: channel, ...(probe ?? {}) } : null;
  const inspect = useNetwork<InspectPayload>(runId, "inspect", params);
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

function ConvStepPanel({ runId, epoch, idx, layer, channel, probe, listing, onPick }: {
  runId: string; epoch: number; idx: number; layer: LayerRow; channel: number; probe: { x: number; y: number } | null;
  listing: LayerListing; onPick: (id: string, ch: number) => void;
}) {
  const conv1 = listing.layers.find((l) => l.conv1_like);
  const where = useNetwork<InspectPayload>(runId, "inspect", layer.conv1_like && !probe ? { epoch, idx, layer: layer.id, ch: channel } : null);
  const at = probe ?? (where.payload ? { x: where.payload.argmax.x, y: where.payload.argmax.y } : null);
  const step = useNetwork<ConvStepPayload>(runId, "conv_step", layer.conv1_like && at ? { epoch, idx, layer: layer.id, out: channel, x: at.x, y: at.y } : null);
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

function KernelsPanel({ runId, epoch, layer, channel, listing }: { runId: string; epoch: number; layer: LayerRow; channel: number; listing: LayerListing }) {
  const source = kernelLayerFor(layer, listing.layers);
  const k = useNetwork<KernelsPayload>(runId, "kernels", source ? { epoch, layer: source.id, out: channel } : null);
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

function TopkPanel({ runId, epoch, layer, channel, listing, onOpen }: {
  runId: string; epoch: number; layer: LayerRow; channel: number; listing: LayerListing; onOpen: (idx: number) => void;
}) {
  const maxN = Math.min(listing.heldout_size, listing.max_topk_subset);
  const [metric, setMetric] = useState<"max" | "mean">("max");
  const [n, setN] = useState(Math.min(2000, maxN));
  const [asked, setAsked] = useState<Params | null>(null);
  const wanted = { epoch, layer: layer.id, ch: channel, metric, n, k: 12 };
  const current = asked && JSON.stringify(asked) === JSON.stringify(wanted) ? asked : null;
  const top = useNetwork<TopkPayload>(runId, "topk", current);
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

function PerturbPanel({ runId, epoch, idx, fwd, folder }: { runId: string; epoch: number; idx: number; fwd: ForwardPayload; folder: string | null }) {
  const keys = fwd.latent.decodable;
  const [key, setKey] = useState(keys[0] ?? "");
  const [dim, setDim] = useState(0);
  const [delta, setDelta] = useState(0);
  const [settled, setSettled] = useState(0);
  useEffect(() => {
    const t = window.setTimeout(() => setSettled(delta), 120);
    return () => window.clearTimeout(t);
  }, [delta]);
  const vector = fwd.latent.vectors[key] ?? [];
  const d = Math.min(dim, Math.max(0, vector.length - 1));
  const res = useNetwork<PerturbPayload>(runId, "perturb", key ? { epoch, idx, key, dim: d, delta: settled } : null);
  const shown = res.payload ?? res.last;
  if (!keys.length) return null;
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
              <select id="perturb-key" value={key} onChange={(e) => { setKey(e.target.value); setDelta(0); }}>{keys.map((k) => <option key={k} value={k}>{k}</option>)}</select></div>
            <div><label htmlFor="perturb-dim">dimension</label><br />
              <select id="perturb-dim" value={d} onChange={(e) => { setDim(Number(e.target.value)); setDelta(0); }}>
                {vector.map((v, i) => <option key={i} value={i}>{i} ({num(v, 3)})</option>)}
              </select></div>
          </div>
          <div>
            <label htmlFor="perturb-delta">delta</label>
            <div className={s.slider}>
              <span className="mono small">−3</span>
              <input id="perturb-delta" type="range" min={-3} max={3} step={0.25} value={delta} onChange={(e) => setDelta(Number(e.target.value))} data-testid="net-perturb-slider" />
              <span className="mono small">+3</span>
              <b className="mono" style={{ minWidth: "3.5rem", textAlign: "right" }} data-testid="net-perturb-delta">{delta > 0 ? "+" : ""}{delta}</b>
            </div>
          </div>
          {res.error ? <ErrorBox title="Perturbation failed.">{res.error.detail}</ErrorBox> : null}
          <p className="muted small" style={{ margin: 0 }}>{shown ? shown.decode_path : ""}{shown?.sample_id ? ` · noise ${shown.sample_id}` : ""} · delta 0 reproduces the base reconstruction exactly</p>
        </div>
      </div>
    </section>
  );
}
