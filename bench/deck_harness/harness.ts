// A bare deck.gl page for bench/latent_explorer.py: the same data, canvas size, views and layer types as the
// explorer (binary attributes, OrthographicView / OrbitView), and nothing else. The benchmark divides the
// explorer's frame times by this page's, measured in the same browser run. Bundled with esbuild from
// frontend/node_modules at bench time.
import { Deck, OrbitView, OrthographicView } from "@deck.gl/core";
import { LineLayer, ScatterplotLayer } from "@deck.gl/layers";
import { parseArrayFile } from "../../frontend/src/lib/arrays";

type ViewState = Record<string, unknown>;

const state: {
  deck: Deck<OrbitView | OrthographicView> | null; positions: Float32Array; colours: Uint8Array; radius: number;
  edges: [Float32Array, Float32Array] | null; edgeColours: Uint8Array | null; edgeWidth: number; dims: number;
} = { deck: null, positions: new Float32Array(0), colours: new Uint8Array(0), radius: 2, edges: null, edgeColours: null, edgeWidth: 1, dims: 2 };

function layers() {
  const n = state.positions.length / 3;
  const out: unknown[] = [];
  if (state.edges) {
    const m = state.edges[0].length / 3;
    out.push(new LineLayer({ id: "edges", data: { length: m, attributes: {
      getSourcePosition: { value: state.edges[0], size: 3 }, getTargetPosition: { value: state.edges[1], size: 3 },
      ...(state.edgeColours ? { getColor: { value: state.edgeColours, size: 4, normalized: true } } : {}),
    } } as never, getColor: [40, 44, 52, 60], widthUnits: "pixels", getWidth: state.edgeWidth }));
  }
  out.push(new ScatterplotLayer({ id: "points", data: { length: n, attributes: {
    getPosition: { value: state.positions, size: 3 }, getFillColor: { value: state.colours, size: 4, normalized: true },
  } } as never, radiusUnits: "pixels", getRadius: state.radius, billboard: state.dims > 2 }));
  return out;
}

let frames: number[] = [];
let onFrame: (() => void) | null = null;

const harness = {
  init(dims: number, width: number, height: number, viewState: ViewState) {
    const el = document.getElementById("map")!;
    el.style.width = `${width}px`;
    el.style.height = `${height}px`;
    state.dims = dims;
    state.deck?.finalize();
    state.deck = new Deck({
      parent: el, width: "100%", height: "100%", viewState: viewState as never, layers: [],
      views: dims > 2 ? new OrbitView({ id: "orbit", orbitAxis: "Y", fovy: 40 }) : new OrthographicView({ id: "ortho", flipY: false }),
      onAfterRender: () => { frames.push(performance.now()); onFrame?.(); },
    });
  },
  setData(positions: number[], colours: number[], radius: number) {
    state.positions = new Float32Array(positions);
    state.colours = new Uint8Array(colours);
    state.radius = radius;
    state.deck!.setProps({ layers: layers() as never });
  },
  /** line segments (the explorer's edges or trails), with their colours (4 per segment) and width when given */
  setEdges(source: number[] | null, target: number[] | null, colours: number[] | null = null, width = 1) {
    state.edges = source && target ? [new Float32Array(source), new Float32Array(target)] : null;
    state.edgeColours = colours ? new Uint8Array(colours) : null;
    state.edgeWidth = width;
    state.deck!.setProps({ layers: layers() as never });
  },
  setViewState(viewState: ViewState) {
    state.deck!.setProps({ viewState: viewState as never });
  },
  /** Fetch a projection's array file (the one the explorer fetches), view its coordinates in place (the
   * header's offsets: no copy), build the position buffer the way the explorer does (one scale for every axis),
   * upload it and resolve at the next rendered frame: the bare epoch switch. */
  async swap(url: string, scale: number, centre: number[]): Promise<{ ms: number; bytes: number }> {
    const started = performance.now();
    const buffer = await (await fetch(url)).arrayBuffer();
    const coords = parseArrayFile(buffer).arrays.coords;
    const [n, d] = coords.shape, c = coords.data;
    const positions = new Float32Array(n * 3);
    for (let i = 0; i < n; i++) {
      positions[3 * i] = (c[i * d] - centre[0]) * scale;
      positions[3 * i + 1] = (c[i * d + 1] - centre[1]) * scale;
      positions[3 * i + 2] = d > 2 ? (c[i * d + 2] - centre[2]) * scale : 0;
    }
    state.positions = positions;
    // until the frame is drawn and the browser is done with it (the next task), as the explorer is timed
    await new Promise<void>((resolve) => {
      onFrame = () => { onFrame = null; setTimeout(resolve, 0); };
      state.deck!.setProps({ layers: layers() as never });
    });
    return { ms: performance.now() - started, bytes: buffer.byteLength };
  },
  /** The bare page load: a deck of ``dims`` at ``viewState`` draws a projection's array file, each point in its
   * label's colour (``palette``: label -> RGBA); resolves with the time since navigation began (performance.now()),
   * as the explorer's load is read. Started by the page itself from its address (bench_page_script), so no
   * round trip from the benchmark's process is counted. */
  async load(url: string, scale: number, dims: number, width: number, height: number, viewState: ViewState,
    palette: Record<string, number[]>, radius: number): Promise<number> {
    harness.init(dims, width, height, viewState);
    state.radius = radius;
    const buffer = await (await fetch(url)).arrayBuffer();
    const labels = parseArrayFile(buffer).arrays.labels.data;
    const colours = new Uint8Array(labels.length * 4);
    for (let i = 0; i < labels.length; i++) colours.set(palette[labels[i]] ?? [150, 150, 150, 220], 4 * i);
    state.colours = colours;
    await harness.swap(url, scale, [0, 0, 0]);  // the browser's cache answers the second fetch
    return performance.now();
  },
  takeFrames() { const f = frames; frames = []; return f; },
  get deck() { return state.deck; },
};

(window as unknown as { harness: typeof harness }).harness = harness;
