// Decoded samples: a view of the sampling plugin (ViewSpec "decoded-samples", mount explorer-side), loaded by the UI at
// run time. It samples around the focused held-out digit by itself, and inside a component another view
// publishes as "component" {component} (the mixture view's bars).
import { useCallback, useEffect, useState } from "react";
import { api, ApiError, ErrorBox } from "@latentdeck/view-kit";
import type { Compute, ViewProps } from "@latentdeck/view-kit";

/** the sampling computation's request (its pydantic model: SampleRequest) */
interface SamplesRequest {
  kind: "posterior_local" | "prior_component"; idx?: number | null; component?: number | null; m: number;
  epoch: number | null; seed: number | null;
}
/** One decoded sample grid: the sampling computation's payload (fields in the sampling plugin's README; `png`
 * and `json` name the grid's `<stem>.png` / `<stem>.json` in samples/), with `cached` = read from disk rather than computed
 * by this request and `elapsedMs` = how long this request took here. */
interface SamplesResult {
  kind: string; epoch: number; idx?: number; component?: number; m: number; seed: number; seed_source: string;
  distribution: string; description: string; compute_ms: number; png: string; json: string;
  cached: boolean; elapsedMs: number;
  /** prior_component of a mixture model: how much data the component holds at this epoch */
  component_weight?: { p: number; argmax_share: number; note?: string | null } | null;
  /** prior samples of a pretraining epoch: why they show nothing yet (the prior is not in use) */
  phase_note?: string | null;
}

const M_CHOICES = [4, 9, 16, 64, 256];
const TILE_PX = 56; // each 28 px decode drawn at 2x, pixelated

type Failure = { status: number; detail: string };
type Outcome = { result?: SamplesResult; failure?: Failure };
type Body = Pick<SamplesRequest, "kind" | "idx" | "component">;

/** One grid from the server, or why not (a 4xx detail, or a seed that is not a whole number). */
async function fetchGrid(compute: Compute, body: Body, m: number, epoch: number | null, seedText: string): Promise<Outcome> {
  const seed = seedText.trim() === "" ? null : Number(seedText);
  if (seed !== null && !Number.isInteger(seed)) {
    return { failure: { status: 0, detail: `The seed must be a whole number (got "${seedText}"); leave it empty for the run's derived seed.` } };
  }
  try {
    const started = performance.now();
    const r = await compute("sampling", { ...body, m, epoch, seed } as SamplesRequest);
    return { result: { ...r.payload, cached: !r.created, elapsedMs: performance.now() - started } as unknown as SamplesResult };
  } catch (err) {
    return { failure: err instanceof ApiError ? { status: err.status, detail: err.detail } : { status: 0, detail: String(err) } };
  }
}

/** Decoded samples from the server (POST /api/runs/{id}/compute/sampling): around the selected held-out example
 * (z ~ q(z|x), or the AE's labelled isotropic neighbourhood) and, for mixture models, inside one
 * component (z ~ p(z|c)). The server computes and persists every grid; this panel only asks and draws. */
export default function SamplesView({ run, epoch, explorer, compute }: ViewProps) {
  const anchor = explorer && explorer.focus.length === 1 ? explorer.focus[0] : null;
  const heldout = anchor?.startsWith("heldout:") ? Number(anchor.slice(8)) : null;
  const options = (run.config.model_options ?? {}) as Record<string, unknown>;
  const components = typeof options.num_components === "number" ? options.num_components : null;
  const [componentRequest, setComponentRequest] = useState<{ component: number; token: number } | null>(null);
  const subscribe = explorer?.subscribe;
  useEffect(() => subscribe?.("component", (detail) => {
    const c = (detail as { component?: unknown } | null)?.component;
    if (typeof c === "number") setComponentRequest((r) => ({ component: c, token: (r?.token ?? 0) + 1 }));
  }), [subscribe]);
  return <SamplesPanel runId={run.id} compute={compute} model={run.model ?? String(run.config.model)} epoch={epoch}
    selectedIndex={heldout} components={components} componentRequest={componentRequest}
    selectionNote={anchor && heldout === null ? `The focused point is training example #${anchor.split(":")[1]}: samples around an example take held-out indices.` : null} />;
}

function SamplesPanel({ runId, compute, model, epoch, selectedIndex, components, componentRequest, selectionNote }: {
  runId: string; compute: Compute; model: string; epoch: number | null; selectedIndex: number | null; components: number | null;
  /** a component clicked elsewhere (the mixture panel): sample from it; a new token asks again */
  componentRequest?: { component: number; token: number } | null;
  /** why the focused point cannot be sampled around (e.g. a training-split point), shown instead */
  selectionNote?: string | null;
}) {
  const [idxText, setIdxText] = useState(selectedIndex === null ? "" : String(selectedIndex));
  const [m, setM] = useState(16);
  const [component, setComponent] = useState(0);
  const [seedText, setSeedText] = useState("");
  const [result, setResult] = useState<SamplesResult | null>(null);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [busy, setBusy] = useState(false);

  const show = useCallback((outcome: Outcome) => {
    setResult(outcome.result ?? null);
    setFailure(outcome.failure ?? null);
    setBusy(false);
  }, []);

  const ask = (body: Body) => {
    setBusy(true);
    void fetchGrid(compute, body, m, epoch, seedText).then(show);
  };

  const askPosterior = () => {
    const idx = Number(idxText);
    if (idxText.trim() === "" || !Number.isInteger(idx)) {
      show({ failure: { status: 0, detail: "Pick a point on the map or type a held-out index (a whole number)." } });
      return;
    }
    ask({ kind: "posterior_local", idx });
  };

  // A new selection on the map fills the index (adjusted during render, React's pattern for props)
  // and asks for its samples straight away, with the panel's m and seed.
  const [shownSelection, setShownSelection] = useState(selectedIndex);
  if (selectedIndex !== shownSelection) {
    setShownSelection(selectedIndex);
    if (selectedIndex !== null) {
      setIdxText(String(selectedIndex));
      setBusy(true);
    }
  }
  useEffect(() => {
    if (selectedIndex === null) return;
    let current = true;
    void fetchGrid(compute, { kind: "posterior_local", idx: selectedIndex }, m, epoch, seedText)
      .then((outcome) => { if (current) show(outcome); });
    return () => { current = false; };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- only a new selection (or epoch) asks by itself
  }, [runId, selectedIndex, epoch]);

  // A component picked in the mixture panel: show it in the selector and sample from it.
  const [shownRequest, setShownRequest] = useState(componentRequest?.token ?? null);
  if ((componentRequest?.token ?? null) !== shownRequest) {
    setShownRequest(componentRequest?.token ?? null);
    if (componentRequest) {
      setComponent(componentRequest.component);
      setBusy(true);
    }
  }
  useEffect(() => {
    if (!componentRequest) return;
    let current = true;
    void fetchGrid(compute, { kind: "prior_component", component: componentRequest.component }, m, epoch, seedText)
      .then((outcome) => { if (current) show(outcome); });
    return () => { current = false; };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- only a new request asks by itself
  }, [runId, componentRequest?.token]);

  const columns = result ? Math.ceil(Math.sqrt(result.m)) : 0;
  return (
    <section className="panel" data-testid="samples-panel">
      <h2>Decoded samples</h2>
      <p className="muted small">
        What the <b>{model}</b> decoder makes around a held-out example (z ~ q(z|x); a model with a deterministic
        encoder gets an isotropic neighbourhood of the example&apos;s code, its scale stated with the grid)
        {components !== null ? " or inside one mixture component (z ~ p(z|c))" : ""}. The server computes and saves
        each grid; asking again is served from disk.
      </p>
      <div className="filters">
        <label>held-out index{" "}
          <input type="number" min={0} value={idxText} onChange={(e) => setIdxText(e.target.value)}
            style={{ width: "6rem" }} data-testid="samples-idx" />
        </label>
        <label>m{" "}
          <select value={m} onChange={(e) => setM(Number(e.target.value))} data-testid="samples-m" style={{ width: "auto" }}>
            {M_CHOICES.map((v) => <option key={v} value={v}>{v}</option>)}
          </select>
        </label>
        <label>seed{" "}
          <input type="text" inputMode="numeric" placeholder="derived" value={seedText}
            onChange={(e) => setSeedText(e.target.value)} style={{ width: "7rem" }} data-testid="samples-seed" />
        </label>
        <button type="button" className="btn primary" disabled={busy} onClick={askPosterior}
          data-testid="samples-run">Sample around example</button>
      </div>
      {components !== null ? (
        <div className="filters">
          <label>component{" "}
            <select value={component} onChange={(e) => setComponent(Number(e.target.value))} data-testid="samples-component"
              style={{ width: "auto" }}>
              {Array.from({ length: components }, (_, c) => <option key={c} value={c}>{c}</option>)}
            </select>
          </label>
          <button type="button" className="btn" disabled={busy}
            onClick={() => ask({ kind: "prior_component", component })} data-testid="samples-prior-run">
            Sample from component
          </button>
        </div>
      ) : null}
      {selectionNote ? <p className="note small" data-testid="samples-note">{selectionNote}</p> : null}
      {busy ? <p className="muted small" data-testid="samples-busy">Decoding…</p> : null}
      {failure ? (
        <div data-testid="samples-error">
          <ErrorBox title={failure.status ? `The server refused (${failure.status})` : "Cannot ask for samples"}>
            {failure.detail}
          </ErrorBox>
        </div>
      ) : null}
      {result && !failure ? (
        <figure style={{ margin: 0 }}>
          {/* eslint-disable-next-line @next/next/no-img-element -- a run file served by the API, not a static asset */}
          <img src={api.artifactUrl(runId, result.png)} alt={`${result.m} decoded samples (${result.distribution})`}
            width={columns * TILE_PX} style={{ imageRendering: "pixelated", maxWidth: "100%", borderRadius: 6 }}
            data-testid="samples-image" />
          <figcaption className="small" data-testid="samples-meta">
            <div>
              <b>{result.kind === "posterior_local" ? `example ${result.idx}` : `component ${result.component}`}</b>
              {" · "}{result.m} samples · epoch {result.epoch} · <span className="mono">{result.distribution}</span>
            </div>
            <div className="muted">{result.description}</div>
            {result.phase_note ? <div className="callout warn small" data-testid="samples-phase-note">{result.phase_note}</div> : null}
            {result.component_weight ? (
              <div className={result.component_weight.note ? "callout warn small" : "muted"} data-testid="component-weight">
                weight of component {result.component} at this epoch: {result.component_weight.p.toFixed(4)}
                {" "}({(100 * result.component_weight.argmax_share).toFixed(1)}% of the examples have it as their most likely component)
                {result.component_weight.note ? <div>{result.component_weight.note}</div> : null}
              </div>
            ) : null}
            <div className="muted mono">
              seed {result.seed} ({result.seed_source}) · {result.cached ? "from disk" : "computed"} ·
              compute {result.compute_ms.toFixed(0)} ms · answered in {result.elapsedMs.toFixed(0)} ms · {result.png}
            </div>
          </figcaption>
        </figure>
      ) : null}
    </section>
  );
}
