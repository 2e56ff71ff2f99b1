"use client";
// The WebGL scatter (deck.gl): points from binary buffers, kNN edges, a 2-D overlay bitmap, the paths views
// draw, hover / click picking, a 2-D lasso and animated transitions between epochs. It draws what it is
// given; everything it shows comes from run files the page has read. Client-only (loaded with
// next/dynamic, ssr: false).
import { Deck, OrbitView, OrthographicView } from "@deck.gl/core";
import { useEffect, useLayoutEffect, useRef, useState } from "react";
import { interpolatePositions } from "@/lib/latent/interpolate";
import { pointsInLasso } from "@/lib/latent/lasso";
import type { Point2 } from "@/lib/latent/lasso";
import { fitToPoints } from "@/lib/latent/scaling";
import { spritePlan } from "@/lib/latent/sprites";
import type { SpritePlan } from "@/lib/latent/sprites";
import { initialCamera, roundedCamera } from "./camera";
import type { CameraState } from "./camera";
import { firstView, viewStateOf } from "./firstView";
import { buildLayers } from "./scatterLayers";
import type { LayerMemo, ScatterProps } from "./scatterLayers";
import s from "./Explorer.module.css";

export type { EdgeIndex, OverlayImage, PathDraw, Ring, ScatterProps } from "./scatterLayers";

type Rendered = { frames: number; edges: number };

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
  const memo = useRef<LayerMemo>({ edges: null });
  const plan = useRef<SpritePlan | null>(null); // what the last layers() drew for the sprites prop
  const [failure, setFailure] = useState<string | null>(null);
  const [polygon, setPolygon] = useState<Point2[] | null>(null);
  // the props every callback and redraw reads: a layout effect declared before the layout effects that redraw, so
  // they read this render's props (as a passive effect it ran after them, and a new path or colours were drawn a
  // change late: a view's path never reached the map)
  useLayoutEffect(() => { latest.current = props; });

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
    const built = buildLayers(p, shown.current, cameraRef.current?.zoom ?? 0, memo.current);
    plan.current = built.plan;
    stats.current.edges = built.edgeCount;
    return built.layers;
  };

  /** Cancel a running epoch transition, where it is or (``finish``) at its end; the caller draws what comes next,
   * and the map no longer says it is animating. (A new dimension's Deck comes after the transition its new
   * positions began on the old Deck, in the layout effect below: cancelled there without this, the map said
   * "animating" for ever and stayed mid-way.) */
  const stopAnimation = (finish = false) => {
    if (!anim.current) return;
    cancelAnimationFrame(anim.current.raf);
    if (finish) shown.current = anim.current.to;
    anim.current = null;
    if (container.current) container.current.dataset.animating = "false";
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

  /** The first view (firstView.ts): the points fill the map up to a small margin, or the unit box. */
  const fitCamera = () => {
    const p = latest.current;
    const { w, h } = size();
    // where the points are going (shown.current may still hold the other dimension's)
    applyCamera(firstView(p.dims, p.positions, p.scaling, p.fit, w, h, viewRef.current), true);
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
      stopAnimation(true);
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

  // new target positions: animate from what is on screen now. A layout effect, as the one below: the deck gets its
  // layers in the commit that changes them, so its next animation frame draws them. A passive effect runs after
  // the browser has painted the rest of the commit (the badge, the readouts), and the new epoch then waited a
  // frame more (a trace of a cold epoch switch: the deck's frame came ~35 ms after the page's).
  useLayoutEffect(() => {
    const to = props.positions;
    const from = shown.current;
    stopAnimation();
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
  useLayoutEffect(() => {
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
