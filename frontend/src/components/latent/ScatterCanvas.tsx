"use client";
// The WebGL scatter (deck.gl): points from binary buffers, kNN edges, a 2-D overlay bitmap, a latent-walk
// path, hover / click picking, a 2-D lasso and animated transitions between epochs. It draws what it is
// given; everything it shows comes from run files the page has read. Client-only (loaded with
// next/dynamic, ssr: false).
import { Deck, OrbitView, OrthographicView } from "@deck.gl/core";
import { BitmapLayer, LineLayer, PathLayer, ScatterplotLayer } from "@deck.gl/layers";
import { useEffect, useRef, useState } from "react";
import { interpolatePositions } from "@/lib/latent/interpolate";
import { pointsInLasso } from "@/lib/latent/lasso";
import type { Point2 } from "@/lib/latent/lasso";
import { fitToPoints, fitZoom } from "@/lib/latent/scaling";
import type { Scaling } from "@/lib/latent/scaling";
import type { TrailSet } from "@/lib/latent/changes";
import { CameraLink, initialCamera, roundedCamera } from "./camera";
import { trailLayer } from "./TrailLayer";
import { spriteLayer } from "./SpriteLayer";
import type { SpriteSheet } from "./SpriteLayer";
import { spritePlan } from "@/lib/latent/sprites";
import type { SpritePlan } from "@/lib/latent/sprites";
import type { CameraState } from "./camera";
import s from "./Explorer.module.css";

export interface EdgeIndex {
  source: Uint32Array;
  target: Uint32Array;
  colours: Uint8Array; // 4 per edge
  count: number;
  /** edges drawn at least 30 % opaque */
  visible?: number;
  /** edges left out of a readable subset */
  hidden?: number;
}

export interface OverlayImage {
  key: string;
  image: HTMLCanvasElement;
  bounds: [number, number, number, number]; // left, bottom, right, top in world units
  opacity: number;
}

export interface PathDraw {
  points: Float32Array; // m x 3 world units
  estimate: boolean;
}

export interface Ring {
  index: number;
  colour: [number, number, number, number];
}

export interface ScatterProps {
  id: string;
  dims: number;
  positions: Float32Array;
  colours: Uint8Array;
  radiusPx: number;
  scaling: Scaling;
  fitKey: string; // a new key re-fits the camera (method or dimension changed)
  resetToken: number;
  camera: CameraLink;
  rings?: Ring[];
  /** points drawn again on top, larger and ringed (search matches), as subset positions */
  highlight?: Uint32Array | null;
  /** a new token moves the camera to fit these points (zoom to matches) */
  fitTo?: { token: number; indices: Uint32Array } | null;
  /** the page is dark: outlines drawn light */
  dark?: boolean;
  /** the first view: fit the points ("points", default) or the scaled extent around the origin ("extent":
   * the same view for every map scaled to its own extent, for linked cameras across maps) */
  fit?: "points" | "extent";
  edges?: EdgeIndex | null;
  edgeWidth?: number;
  /** difference mode: a line per point from its previous place, under the points, faded toward the old end */
  trails?: TrailSet | null;
  /** digits as points: each point drawn as its thumbnail from the input atlas (mode auto / on / off) */
  sprites?: SpriteSheet | null;
  overlay?: OverlayImage | null;
  path?: PathDraw | null;
  transitionMs?: number;
  lasso?: boolean;
  onHover?: (index: number | null) => void;
  onClick?: (index: number | null) => void;
  onLasso?: (positions: number[]) => void;
  testId?: string;
  label?: string;
}

type Rendered = { frames: number; edges: number };

const FIT_MARGIN = 0.05; // of the map's width and height on each side, on first show

function viewStateOf(c: CameraState) {
  return c.dims > 2
    ? { target: c.target, zoom: c.zoom, rotationX: c.rotationX, rotationOrbit: c.rotationOrbit, minZoom: -4, maxZoom: 14 }
    : { target: c.target, zoom: c.zoom, minZoom: -4, maxZoom: 16 };
}

function endpoints(positions: Float32Array, edges: EdgeIndex): [Float32Array, Float32Array] {
  const a = new Float32Array(edges.count * 3), b = new Float32Array(edges.count * 3);
  for (let e = 0; e < edges.count; e++) {
    const i = edges.source[e] * 3, j = edges.target[e] * 3;
    a[3 * e] = positions[i]; a[3 * e + 1] = positions[i + 1]; a[3 * e + 2] = positions[i + 2];
    b[3 * e] = positions[j]; b[3 * e + 1] = positions[j + 1]; b[3 * e + 2] = positions[j + 2];
  }
  return [a, b];
}

export default function ScatterCanvas(props: ScatterProps) {
  const container = useRef<HTMLDivElement | null>(null);
  const deckRef = useRef<Deck<OrbitView | OrthographicView> | null>(null);
  const latest = useRef(props);
  const shown = useRef<Float32Array>(props.positions); // positions drawn in the current frame
  const spare = useRef<[Float32Array, Float32Array] | null>(null);
  const anim = useRef<{ from: Float32Array; to: Float32Array; start: number; raf: number } | null>(null);
  const cameraRef = useRef<CameraState | null>(null);
  const viewRef = useRef<OrbitView | OrthographicView | null>(null); // to measure the first 3-D view before deck is ready
  const restored = useRef(false); // the first view came from the link (another canvas, or the page address): keep it
  const stats = useRef<Rendered>({ frames: 0, edges: 0 });
  const edgeCache = useRef<{ positions: Float32Array; edges: EdgeIndex; ends: [Float32Array, Float32Array] } | null>(null);
  const plan = useRef<SpritePlan | null>(null); // what the last layers() drew for the sprites prop
  const [failure, setFailure] = useState<string | null>(null);
  const [polygon, setPolygon] = useState<Point2[] | null>(null);
  useEffect(() => { latest.current = props; });

  /** the subset position under the cursor: a point, or a search match drawn on top of it */
  const pointOf = (info: { layer?: { id: string } | null; index: number }): number | null => {
    if (info.index < 0 || !info.layer) return null;
    if (info.layer.id === "points" || info.layer.id === "sprites") return info.index;
    if (info.layer.id === "matches") return latest.current.highlight?.[info.index] ?? null;
    return null;
  };

  const size = () => {
    const el = container.current;
    return { w: el?.clientWidth || 600, h: el?.clientHeight || 600 };
  };

  const layers = () => {
    const p = latest.current;
    const positions = shown.current;
    const n = Math.min(positions.length / 3, p.colours.length / 4);
    const out: unknown[] = [];
    if (p.overlay && p.dims === 2) {
      out.push(new BitmapLayer({
        id: `overlay-${p.overlay.key}`, image: p.overlay.image, bounds: p.overlay.bounds, opacity: p.overlay.opacity,
        textureParameters: { minFilter: "linear", magFilter: "linear" },
      }));
    }
    let edgeCount = 0;
    if (p.edges && p.edges.count > 0) {
      let cache = edgeCache.current;
      if (!cache || cache.positions !== positions || cache.edges !== p.edges) {
        cache = { positions, edges: p.edges, ends: endpoints(positions, p.edges) };
        edgeCache.current = cache;
      }
      edgeCount = p.edges.count;
      out.push(new LineLayer({
        id: "edges",
        data: { length: edgeCount, attributes: {
          getSourcePosition: { value: cache.ends[0], size: 3 },
          getTargetPosition: { value: cache.ends[1], size: 3 },
          getColor: { value: p.edges.colours, size: 4, normalized: true },
        } } as never,
        widthUnits: "pixels", getWidth: p.edgeWidth ?? 1,
      }));
    }
    if (p.trails && p.trails.count > 0) out.push(trailLayer(p.trails));
    const sprites = p.sprites ? spritePlan(p.sprites.mode, p.sprites.spacing, cameraRef.current?.zoom ?? 0, p.dims) : null;
    plan.current = sprites;
    out.push(new ScatterplotLayer({
      id: "points",
      data: { length: n, attributes: {
        getPosition: { value: positions, size: 3 },
        getFillColor: { value: p.colours, size: 4, normalized: true },
      } } as never,
      radiusUnits: "pixels", getRadius: p.radiusPx, billboard: p.dims > 2, pickable: true, autoHighlight: false,
      visible: !sprites?.show, // the thumbnails stand in for the dots
    }));
    if (sprites?.show) out.push(spriteLayer(p.sprites!, positions, p.colours, n, sprites.sizePx, p.dims));
    const around = sprites?.show ? sprites.sizePx * 0.75 : 0; // rings and match outlines go round a thumbnail
    const marked = p.highlight ?? null;
    if (marked && marked.length > 0 && marked.length < n) {
      // search matches: drawn last among the points, so one hidden behind others comes to the front
      const k = marked.length, at = new Float32Array(3 * k), fill = new Uint8Array(4 * k);
      for (let j = 0; j < k; j++) {
        const i = marked[j];
        if (i >= n) continue;
        at.set(positions.subarray(3 * i, 3 * i + 3), 3 * j);
        fill.set(p.colours.subarray(4 * i, 4 * i + 3), 4 * j);
        fill[4 * j + 3] = 255;
      }
      out.push(new ScatterplotLayer({
        id: "matches",
        data: { length: k, attributes: {
          getPosition: { value: at, size: 3 },
          getFillColor: { value: fill, size: 4, normalized: true },
        } } as never,
        radiusUnits: "pixels", getRadius: Math.max(p.radiusPx * 1.6, p.radiusPx + 2, around), billboard: p.dims > 2, pickable: true, filled: !around,
        stroked: true, lineWidthUnits: "pixels", getLineWidth: 1.5, getLineColor: p.dark ? [240, 240, 240, 255] : [17, 17, 17, 255],
      }));
    }
    if (p.path && p.path.points.length >= 6) {
      const m = p.path.points.length / 3;
      const coords = Array.from({ length: m }, (_, i) => [p.path!.points[3 * i], p.path!.points[3 * i + 1], p.path!.points[3 * i + 2]]);
      out.push(new PathLayer({
        id: "walk-path", data: [{ path: coords }], getPath: (d: { path: number[][] }) => d.path as never,
        // an estimated placement is drawn amber, an exact one black (the walk panel says which)
        getColor: p.path.estimate ? [176, 106, 0, 235] : [20, 20, 20, 235], widthUnits: "pixels", getWidth: 2.5,
      }));
      out.push(new ScatterplotLayer({
        id: "walk-steps", data: coords, getPosition: (d: number[]) => d as never, radiusUnits: "pixels",
        getRadius: (_: unknown, { index }: { index: number }) => (index === 0 || index === m - 1 ? 6 : 3.5),
        getFillColor: [255, 255, 255, 255], stroked: true, getLineColor: p.path.estimate ? [176, 106, 0, 255] : [20, 20, 20, 255],
        lineWidthUnits: "pixels", getLineWidth: 2,
        billboard: p.dims > 2,
      }));
    }
    const rings = (p.rings ?? []).filter((r) => r.index >= 0 && r.index < n);
    if (rings.length) {
      out.push(new ScatterplotLayer({
        id: "rings", data: rings,
        getPosition: (r: Ring) => [positions[3 * r.index], positions[3 * r.index + 1], positions[3 * r.index + 2]] as never,
        getRadius: Math.max(p.radiusPx + 4, around), radiusUnits: "pixels", filled: false, stroked: true, lineWidthUnits: "pixels",
        getLineWidth: 2.5, getLineColor: (r: Ring) => r.colour, billboard: p.dims > 2,
        updateTriggers: { getPosition: [positions], getLineColor: [rings.map((r) => r.colour.join()).join()] },
      }));
    }
    stats.current.edges = edgeCount;
    if (sprites) p.sprites!.onPlan?.(sprites);
    return out;
  };

  const redraw = () => {
    const deck = deckRef.current;
    if (!deck) return;
    deck.setProps({ layers: layers() as never });
    const el = container.current;
    if (el) el.dataset.edges = String(stats.current.edges);
  };

  const applyCamera = (c: CameraState, publish: boolean) => {
    cameraRef.current = c;
    deckRef.current?.setProps({ viewState: viewStateOf(c) as never });
    if (container.current) container.current.dataset.view = roundedCamera(c);
    if (publish) latest.current.camera.publish(c, latest.current.id);
    const sheet = latest.current.sprites, was = plan.current; // auto thumbnails follow the zoom
    if (sheet && was) {
      const now = spritePlan(sheet.mode, sheet.spacing, c.zoom, latest.current.dims);
      if (now.show !== was.show || now.auto !== was.auto || (now.show && now.sizePx !== was.sizePx)) redraw();
    }
  };

  /** The first view: the points' bounding box fills the map up to a small margin (2-D); in 3-D the cloud
   * as seen from the initial rotation is measured on screen and the zoom corrected (twice: perspective). */
  const fitCamera = () => {
    const p = latest.current;
    const { w, h } = size();
    const positions = p.positions; // where the points are going (shown.current may still hold the other dimension's)
    const all = Array.from({ length: positions.length / 3 }, (_, i) => i);
    let camera = initialCamera(p.dims, fitZoom(p.dims, p.scaling, w, h));
    if (p.fit === "extent") { // the unit box every map is scaled into: one view fits them all
      applyCamera(initialCamera(p.dims, fitZoom(p.dims, { ...p.scaling, half: [1, 1, p.dims > 2 ? 1 : 0] }, w, h)), true);
      return;
    }
    const box = fitToPoints(positions, all, p.dims, w, h, p.dims > 2 ? 14 : 16, FIT_MARGIN);
    if (box) camera = { ...camera, target: box.target, zoom: p.dims > 2 ? camera.zoom : box.zoom };
    const view = viewRef.current;
    if (box && p.dims > 2 && view && all.length > 1) {
      for (let pass = 0; pass < 3; pass++) {
        const viewport = view.makeViewport({ width: w, height: h, viewState: viewStateOf(camera) as never });
        if (!viewport) break;
        let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
        for (const i of all) {
          const [x, y] = viewport.project([positions[3 * i], positions[3 * i + 1], positions[3 * i + 2]]);
          x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
        }
        const usable = 1 - 2 * FIT_MARGIN;
        // move the target under the screen box's centre (at the target's depth), then fit the box's larger side
        const depth = viewport.project(camera.target)[2];
        const centre = viewport.unproject([(x0 + x1) / 2, (y0 + y1) / 2, depth]);
        const target: [number, number, number] = [centre[0], centre[1], centre[2] ?? camera.target[2]];
        const grow = Math.min((w * usable) / Math.max(x1 - x0, 1), (h * usable) / Math.max(y1 - y0, 1));
        camera = { ...camera, target, zoom: Math.min(camera.zoom + Math.log2(grow) * (pass === 0 ? 0.9 : 1), 14) };
      }
    }
    applyCamera(camera, true);
  };

  // one Deck per dimension (orthographic for 2-D, orbit for 3-D)
  useEffect(() => {
    const el = container.current;
    if (!el) return;
    const dims = latest.current.dims;
    let deck: Deck<OrbitView | OrthographicView>;
    try {
      deck = new Deck({
        parent: el, width: "100%", height: "100%",
        views: (viewRef.current = dims > 2 ? new OrbitView({ id: "orbit", orbitAxis: "Y", fovy: 40 }) : new OrthographicView({ id: "ortho", flipY: false })),
        controller: dims > 2 ? { inertia: false } : { inertia: false, doubleClickZoom: false },
        viewState: viewStateOf(initialCamera(dims, 0)) as never,
        layers: [],
        pickingRadius: 4,
        onViewStateChange: ({ viewState }) => {
          const v = viewState as { target: number[]; zoom: number; rotationX?: number; rotationOrbit?: number };
          applyCamera({ dims, target: [v.target[0], v.target[1], v.target[2] ?? 0], zoom: v.zoom,
            rotationX: v.rotationX ?? 0, rotationOrbit: v.rotationOrbit ?? 0 }, true);
          return null;
        },
        onHover: (info) => latest.current.onHover?.(pointOf(info)),
        onClick: (info) => latest.current.onClick?.(pointOf(info)),
        onAfterRender: () => {
          stats.current.frames += 1;
          if (container.current) container.current.dataset.frames = String(stats.current.frames);
        },
        onError: (error) => setFailure(error.message),
        getCursor: ({ isDragging, isHovering }) => (latest.current.lasso ? "crosshair" : isHovering ? "pointer" : isDragging ? "grabbing" : "grab"),
      });
    } catch (error) {
      // rendering needs WebGL2; reported below instead of a blank box
      queueMicrotask(() => setFailure(error instanceof Error ? error.message : String(error)));
      return;
    }
    deckRef.current = deck;
    (el as HTMLDivElement & { __deck?: unknown }).__deck = deck;
    const unsubscribe = latest.current.camera.subscribe(latest.current.id, (c) => {
      if (c.dims === dims) applyCamera(c, false);
    });
    const linked = latest.current.camera.last;
    restored.current = !!linked && linked.dims === dims;
    if (linked && linked.dims === dims) applyCamera(linked, false);
    else fitCamera();
    redraw();
    return () => {
      unsubscribe();
      if (anim.current) cancelAnimationFrame(anim.current.raf);
      anim.current = null;
      deck.finalize();
      deckRef.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- a new Deck only when the dimension changes
  }, [props.dims]);

  // refit when the method / dimension changes or the reset button is pressed (not on epoch changes)
  useEffect(() => {
    if (restored.current) { // mounting with a linked camera: the refit below is for later changes
      restored.current = false;
      return;
    }
    if (deckRef.current) fitCamera();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [props.fitKey, props.resetToken]);

  // zoom to matches: fit the camera to the given points (keeping a 3-D view's rotation)
  useEffect(() => {
    const fit = props.fitTo;
    if (!fit || !deckRef.current) return;
    const { w, h } = size();
    const p = latest.current;
    const view = fitToPoints(props.positions, fit.indices, p.dims, w, h, p.dims > 2 ? 14 : 16);
    if (!view) return;
    const now = cameraRef.current ?? initialCamera(p.dims, 0);
    applyCamera({ ...now, dims: p.dims, target: view.target, zoom: view.zoom }, true);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [props.fitTo?.token]);

  // new target positions: animate from what is on screen now
  useEffect(() => {
    const to = props.positions;
    const from = shown.current;
    if (anim.current) cancelAnimationFrame(anim.current.raf);
    anim.current = null;
    const ms = props.transitionMs ?? 0;
    if (!deckRef.current || ms <= 0 || from === to || from.length !== to.length) {
      shown.current = to;
      redraw();
      return;
    }
    if (!spare.current || spare.current[0].length !== to.length) spare.current = [new Float32Array(to.length), new Float32Array(to.length)];
    const start = performance.now() - 1000 / 60; // the first step is drawn now, with this commit's other changes
    const snapshot = from.slice();
    let flip = 0;
    const step = () => {
      const t = (performance.now() - start) / ms;
      if (t >= 1) {
        shown.current = to;
        anim.current = null;
        if (container.current) container.current.dataset.animating = "false";
        redraw();
        return;
      }
      const buffer = spare.current![flip];
      flip = 1 - flip;
      shown.current = interpolatePositions(snapshot, to, t, buffer);
      redraw();
      anim.current = { from: snapshot, to, start, raf: requestAnimationFrame(step) };
    };
    if (container.current) container.current.dataset.animating = "true";
    step();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [props.positions]);

  // everything else that is drawn
  useEffect(() => {
    redraw();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [props.colours, props.edges, props.overlay, props.path, props.rings, props.radiusPx, props.edgeWidth, props.highlight, props.dark, props.trails, props.sprites]);

  const finishLasso = (poly: Point2[]) => {
    const deck = deckRef.current;
    setPolygon(null);
    if (!deck || poly.length < 3) return;
    const viewport = deck.getViewports()[0];
    const positions = shown.current;
    const n = positions.length / 3;
    const screen = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) {
      const [x, y] = viewport.project([positions[3 * i], positions[3 * i + 1], positions[3 * i + 2]]);
      screen[2 * i] = x;
      screen[2 * i + 1] = y;
    }
    latest.current.onLasso?.(pointsInLasso(screen, poly));
  };

  const local = (e: React.PointerEvent<SVGSVGElement>): Point2 => {
    const box = e.currentTarget.getBoundingClientRect();
    return [e.clientX - box.left, e.clientY - box.top];
  };

  return (
    <div className={s.canvasBox} data-testid={props.testId} data-dims={props.dims}
      data-points={props.positions.length / 3} aria-label={props.label} role="img">
      <div ref={container} className={s.deck} data-frames="0" data-edges="0" />
      {props.lasso && props.dims === 2 ? (
        <svg className={s.lasso} data-testid={props.testId ? `${props.testId}-lasso` : undefined}
          onPointerDown={(e) => { e.currentTarget.setPointerCapture(e.pointerId); setPolygon([local(e)]); }}
          onPointerMove={(e) => {
            if (!polygon) return;
            const [x, y] = local(e), [px, py] = polygon[polygon.length - 1];
            if ((x - px) ** 2 + (y - py) ** 2 >= 9) setPolygon([...polygon, [x, y]]);
          }}
          onPointerUp={(e) => { if (polygon) finishLasso([...polygon, local(e)]); }}>
          {polygon ? <polygon points={polygon.map((q) => q.join(",")).join(" ")} /> : null}
        </svg>
      ) : null}
      {failure ? (
        <div className={s.failure} role="alert" data-testid="webgl-failure">
          <b>The map cannot be drawn: WebGL is not available here.</b> {failure}. Try a current Chrome, Firefox or
          Safari with hardware acceleration on (in headless Chromium, --enable-unsafe-swiftshader).
        </div>
      ) : null}
    </div>
  );
}
