// The network page (CNN Explainer-like): one held-out example through the trained CNN, layer by layer, down to
// one neuron. A view of the network plugin (ViewSpec "network", mount "page": /runs/<id>/view/?name=network),
// loaded by the UI at run time; every picture and number comes from the plugin's on-demand computations
// (network-<operation>, asked through the view's ``compute``, persisted before the answer). The place
// (epoch, example, layer, channel) lives in the address, beside the page's own ``name``.
import { useEffect, useState } from "react";
import type { MouseEvent } from "react";
import { ApiError, Empty, ErrorBox } from "@latentdeck/view-kit";
import type { Compute, OnDemandResult, ViewProps } from "@latentdeck/view-kit";
import { num } from "./payloads";
import type { ForwardPayload, GridLayout, LayerListing } from "./payloads";
import { Img, toApiError, url, useNetwork } from "./NetworkCommon";
import { ChannelPanel, ConvStepPanel, KernelsPanel, PerturbPanel, TopkPanel } from "./NetworkPanels";
import s from "./network.module.css";

const PLACE = ["epoch", "idx", "layer", "ch"] as const;

function readQuery(): { epoch?: number; idx?: number; layer?: string; ch?: number } {
  if (typeof window === "undefined") return {};
  const q = new URLSearchParams(window.location.search);
  const int = (name: string) => (q.get(name) !== null && /^\d+$/.test(q.get(name)!) ? Number(q.get(name)) : undefined);
  return { epoch: int("epoch"), idx: int("idx"), layer: q.get("layer") ?? undefined, ch: int("ch") };
}

/** The place in the address: the page's own parameters (the view's name) stay, the place's are rewritten. */
function writeQuery(place: Record<(typeof PLACE)[number], string>) {
  const q = new URLSearchParams(window.location.search);
  for (const key of PLACE) q.set(key, place[key]);
  window.history.replaceState(window.history.state, "", `${window.location.pathname}?${q.toString()}`);
}

export default function NetworkView({ run, compute }: ViewProps) {
  const [listing, setListing] = useState<LayerListing | null>(null);
  const [listingError, setListingError] = useState<ApiError | null>(null);
  useEffect(() => {
    let current = true;
    compute("network-layers", {}).then(
      (r) => { if (current) setListing(r.payload as unknown as LayerListing); },
      (e: unknown) => { if (current) setListingError(toApiError(e)); });
    return () => { current = false; };
  }, [compute]);
  if (listingError) {
    return listingError.status === 409
      ? <Empty title="No checkpoint yet.">The network can be inspected once the first epoch has finished and saved its checkpoint.</Empty>
      : <ErrorBox title="The network could not be inspected.">{listingError.detail}</ErrorBox>;
  }
  if (!listing) return <p className="muted">Reading the model’s layers…</p>;
  return <Inspector key={run.id} runId={run.id} compute={compute} listing={listing} />;
}

function Inspector({ runId, compute, listing }: { runId: string; compute: Compute; listing: LayerListing }) {
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
    writeQuery({ epoch: String(epoch), idx: String(idx), layer: layer.id, ch: String(ch) });
  }, [epoch, idx, layer.id, ch]);

  const forward = useNetwork<ForwardPayload>(compute, "forward", { epoch, idx });
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
        <ChannelPanel runId={runId} compute={compute} epoch={epoch} idx={idx} layer={layer} channel={ch} probe={probe} onProbe={setProbe} listing={listing} onPick={pick} />
        <ConvStepPanel compute={compute} epoch={epoch} idx={idx} layer={layer} channel={ch} probe={probe} listing={listing} onPick={pick} />
      </div>
      <div className={s.panels}>
        <KernelsPanel runId={runId} compute={compute} epoch={epoch} layer={layer} channel={ch} listing={listing} />
        <TopkPanel runId={runId} compute={compute} epoch={epoch} layer={layer} channel={ch} listing={listing} onOpen={(i) => { setIdx(i); setProbe(null); }} />
      </div>
      {fwd ? <PerturbPanel key={`${epoch}-${idx}`} runId={runId} compute={compute} epoch={epoch} idx={idx} fwd={fwd} folder={forward.artifact?.folder ?? null} /> : null}
    </>
  );
}

function ExamplePanel({ runId, artifact, fwd, loading }: { runId: string; artifact: OnDemandResult | null; fwd: ForwardPayload; loading: boolean }) {
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

