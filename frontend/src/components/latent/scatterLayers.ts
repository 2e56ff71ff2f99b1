// The layers of the explorer's WebGL scatter (ScatterCanvas), built from its props for one frame: the 2-D
// overlay, kNN edges, difference trails, the points (or their digit thumbnails), search matches on top, a
// view's path and rings. Pure construction: the canvas decides when to build and hands them to deck.gl.
import { BitmapLayer, LineLayer, PathLayer, ScatterplotLayer } from "@deck.gl/layers";
import type { TrailSet } from "@/lib/latent/changes";
import type { Scaling } from "@/lib/latent/scaling";
import { spritePlan } from "@/lib/latent/sprites";
import type { SpritePlan } from "@/lib/latent/sprites";
import type { CameraLink } from "./camera";
import { spriteLayer } from "./SpriteLayer";
import type { SpriteSheet } from "./SpriteLayer";
import { trailLayer } from "./TrailLayer";

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
  id: string; // its layers: <id>-path, <id>-steps
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
  /** digits as points: each point drawn as its thumbnail from the input-thumbnail sheet (mode auto / on / off) */
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

function endpoints(positions: Float32Array, edges: EdgeIndex): [Float32Array, Float32Array] {
  const a = new Float32Array(edges.count * 3), b = new Float32Array(edges.count * 3);
  for (let e = 0; e < edges.count; e++) {
    const i = edges.source[e] * 3, j = edges.target[e] * 3;
    a[3 * e] = positions[i]; a[3 * e + 1] = positions[i + 1]; a[3 * e + 2] = positions[i + 2];
    b[3 * e] = positions[j]; b[3 * e + 1] = positions[j + 1]; b[3 * e + 2] = positions[j + 2];
  }
  return [a, b];
}

/** Edge endpoints kept between frames while the positions and the edge set are the same. */
export interface LayerMemo {
  edges: { positions: Float32Array; edges: EdgeIndex; ends: [Float32Array, Float32Array] } | null;
}

/** The layers for ``positions`` (the frame's, mid-transition included) at camera ``zoom``, the number of
 * edges drawn, and the thumbnail plan (null without sprites). */
export function buildLayers(p: ScatterProps, positions: Float32Array, zoom: number, memo: LayerMemo): { layers: unknown[]; edgeCount: number; plan: SpritePlan | null } {
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
      let cache = memo.edges;
      if (!cache || cache.positions !== positions || cache.edges !== p.edges) {
        cache = { positions, edges: p.edges, ends: endpoints(positions, p.edges) };
        memo.edges = cache;
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
    const sprites = p.sprites ? spritePlan(p.sprites.mode, p.sprites.spacing, zoom, p.dims) : null;
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
        id: `${p.path.id}-path`, data: [{ path: coords }], getPath: (d: { path: number[][] }) => d.path as never,
        // an estimated placement is drawn amber, an exact one black (the view that drew it says which)
        getColor: p.path.estimate ? [176, 106, 0, 235] : [20, 20, 20, 235], widthUnits: "pixels", getWidth: 2.5,
      }));
      out.push(new ScatterplotLayer({
        id: `${p.path.id}-steps`, data: coords, getPosition: (d: number[]) => d as never, radiusUnits: "pixels",
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
    if (sprites) p.sprites!.onPlan?.(sprites);
    return { layers: out, edgeCount, plan: sprites };
  }
