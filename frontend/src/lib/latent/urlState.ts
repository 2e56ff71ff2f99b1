// The explorer's view in the page address (?method=pca&dims=2&epoch=7&colour=component&...), so a view can
// be bookmarked, shared, reloaded and opened elsewhere. Reading is forgiving: a value of the wrong shape is
// dropped with a short note naming it (the page then shows the nearest valid view and says so), never a
// blank page. Writing leaves defaults out, so a plain view keeps a short address.

export interface UrlCamera {
  target: [number, number, number];
  zoom: number;
  rotationX: number;
  rotationOrbit: number;
}

export interface ExplorerUrlState {
  method?: string;
  dims?: number;
  epoch?: number; // absent: follow the newest epoch
  colour?: string;
  overlay?: string;
  edges?: string; // off | focused | all
  mode?: string; // extent_gated | top_k
  radius?: number;
  focus?: string[]; // point keys "heldout:123", "train:45"
  filter?: string;
  camera?: UrlCamera;
  changes?: string; // off | whole | learning: the difference mode and what its trails show
  changeColour?: string; // on | off: points coloured by neighbourhood change while the difference mode is on
  digits?: string; // auto | on | off: points drawn as their digit thumbnails
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const KEY = /^(heldout|train):\d{1,9}$/;
const EDGES = new Set(["off", "focused", "all"]);
const MODES = new Set(["extent_gated", "top_k"]);
const CHANGES = new Set(["off", "whole", "learning"]);
const ON_OFF = new Set(["on", "off"]);
const DIGITS = new Set(["auto", "on", "off"]);

function finite(text: string): number | null {
  if (!/^-?\d+(\.\d+)?(e-?\d+)?$/i.test(text)) return null;
  const v = Number(text);
  return Number.isFinite(v) ? v : null;
}

/** The state in the address, and a note for each part that could not be read. */
export function readUrlState(search: string): { state: ExplorerUrlState; problems: string[] } {
  const q = new URLSearchParams(search.startsWith("?") ? search.slice(1) : search);
  const state: ExplorerUrlState = {};
  const problems: string[] = [];
  const bad = (key: string, why: string) => problems.push(`${key}=${q.get(key)!.slice(0, 40)} ${why}`);
  const name = (key: "method" | "colour" | "overlay") => {
    const v = q.get(key);
    if (v === null) return;
    if (NAME.test(v)) state[key] = v;
    else bad(key, "is not a name");
  };
  name("method");
  name("colour");
  name("overlay");
  const dims = q.get("dims");
  if (dims !== null) {
    if (dims === "2" || dims === "3") state.dims = Number(dims);
    else bad("dims", "is not 2 or 3");
  }
  const epoch = q.get("epoch");
  if (epoch !== null) {
    if (/^\d{1,6}$/.test(epoch) && Number(epoch) >= 1) state.epoch = Number(epoch);
    else bad("epoch", "is not an epoch number");
  }
  const edges = q.get("edges");
  if (edges !== null) {
    if (EDGES.has(edges)) state.edges = edges;
    else bad("edges", "is not off, focused or all");
  }
  const mode = q.get("mode");
  if (mode !== null) {
    if (MODES.has(mode)) state.mode = mode;
    else bad("mode", "is not extent_gated or top_k");
  }
  const choice = (key: "changes" | "changeColour" | "digits", allowed: Set<string>) => {
    const v = q.get(key);
    if (v === null) return;
    if (allowed.has(v)) state[key] = v;
    else bad(key, `is not ${[...allowed].join(", ").replace(/, ([^,]*)$/, " or $1")}`);
  };
  choice("changes", CHANGES);
  choice("changeColour", ON_OFF);
  choice("digits", DIGITS);
  const radius = q.get("radius");
  if (radius !== null) {
    const v = finite(radius);
    if (v !== null && v >= 0.25 && v <= 3) state.radius = v;
    else bad("radius", "is not a number from 0.25 to 3");
  }
  const focus = q.get("focus");
  if (focus !== null && focus !== "") {
    const keys = focus.split(",");
    if (keys.length <= 10_000 && keys.every((k) => KEY.test(k))) state.focus = keys;
    else bad("focus", "is not a list of points like heldout:12,train:3");
  }
  const filter = q.get("filter");
  if (filter !== null && filter.length <= 500) state.filter = filter;
  else if (filter !== null) bad("filter", "is longer than 500 characters");
  const camera = q.get("camera");
  if (camera !== null) {
    const parts = camera.split(",").map(finite);
    if (parts.length === 6 && parts.every((v) => v !== null) && Math.abs(parts[3]!) <= 30) {
      const [x, y, z, zoom, rx, ro] = parts as number[];
      state.camera = { target: [x, y, z], zoom, rotationX: rx, rotationOrbit: ro };
    } else bad("camera", "is not x,y,z,zoom,rotationX,rotationOrbit");
  }
  return { state, problems };
}

const round = (v: number, digits = 4) => Number(v.toFixed(digits));

/** The address's query (without "?") for a state; parts equal to ``defaults`` are left out. */
export function writeUrlState(state: ExplorerUrlState, defaults: ExplorerUrlState = {}): string {
  const q = new URLSearchParams();
  const put = (key: keyof ExplorerUrlState, value: string | undefined) => {
    if (value === undefined) return;
    const fallback = defaults[key];
    if (fallback !== undefined && String(fallback) === value) return;
    q.set(key, value);
  };
  put("method", state.method);
  put("dims", state.dims?.toString());
  put("epoch", state.epoch?.toString());
  put("colour", state.colour);
  put("overlay", state.overlay);
  put("edges", state.edges);
  put("mode", state.mode);
  put("radius", state.radius?.toString());
  put("changes", state.changes);
  put("changeColour", state.changeColour);
  put("digits", state.digits);
  if (state.focus?.length) q.set("focus", state.focus.join(","));
  if (state.filter) q.set("filter", state.filter);
  if (state.camera) {
    const c = state.camera;
    q.set("camera", [...c.target.map((v) => round(v)), round(c.zoom, 3), round(c.rotationX, 2), round(c.rotationOrbit, 2)].join(","));
  }
  return q.toString().replace(/%2C/g, ",").replace(/%3A/g, ":").replace(/%21/g, "!");
}

/** What the page shows instead of what the address asked for, in words (empty when it shows what was asked). */
export function substitutions(asked: ExplorerUrlState, shown: { method: string; dims: number; epoch: number | null; methods: string[]; epochs: number[] }): string[] {
  const out: string[] = [];
  if (asked.method !== undefined && asked.method !== shown.method) {
    out.push(`this run has no ${asked.method} projection (it has ${shown.methods.join(", ") || "none"}): showing ${shown.method}`);
  }
  if (asked.dims !== undefined && asked.dims !== shown.dims) out.push(`no ${asked.dims}-D ${shown.method} map: showing ${shown.dims}-D`);
  if (asked.epoch !== undefined && asked.epoch !== shown.epoch && shown.epoch !== null) {
    out.push(`no ${shown.method} ${shown.dims}-D map at epoch ${asked.epoch} (epochs ${shown.epochs[0]}–${shown.epochs[shown.epochs.length - 1]}): showing epoch ${shown.epoch}`);
  }
  return out;
}

/** The epoch of ``epochs`` nearest to ``want`` (the later one on ties); null when there is none. */
export function nearestEpoch(epochs: number[], want: number): number | null {
  let best: number | null = null;
  for (const e of epochs) if (best === null || Math.abs(e - want) < Math.abs(best - want) || (Math.abs(e - want) === Math.abs(best - want) && e > best)) best = e;
  return best;
}
