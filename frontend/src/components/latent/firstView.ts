// The first view of a scatter: the camera that fits its points (2-D: their bounding box with a small margin;
// 3-D: the cloud measured on screen from the initial rotation, centred and zoomed, in three passes for the
// perspective), or the unit box every map is scaled into (linked maps: one view fits them all).
import type { OrbitView, OrthographicView } from "@deck.gl/core";
import { fitToPoints, fitZoom } from "@/lib/latent/scaling";
import type { Scaling } from "@/lib/latent/scaling";
import { initialCamera } from "./camera";
import type { CameraState } from "./camera";

const FIT_MARGIN = 0.05; // of the map's width and height on each side, on first show

export function viewStateOf(c: CameraState) {
  return c.dims > 2
    ? { target: c.target, zoom: c.zoom, rotationX: c.rotationX, rotationOrbit: c.rotationOrbit, minZoom: -4, maxZoom: 14 }
    : { target: c.target, zoom: c.zoom, minZoom: -4, maxZoom: 16 };
}

export function firstView(dims: number, positions: Float32Array, scaling: Scaling, fit: "points" | "extent" | undefined,
  w: number, h: number, view: OrbitView | OrthographicView | null): CameraState {
  const all = Array.from({ length: positions.length / 3 }, (_, i) => i);
  if (fit === "extent") return initialCamera(dims, fitZoom(dims, { ...scaling, half: [1, 1, dims > 2 ? 1 : 0] }, w, h));
  let camera = initialCamera(dims, fitZoom(dims, scaling, w, h));
  const box = fitToPoints(positions, all, dims, w, h, dims > 2 ? 14 : 16, FIT_MARGIN);
  if (box) camera = { ...camera, target: box.target, zoom: dims > 2 ? camera.zoom : box.zoom };
  if (box && dims > 2 && view && all.length > 1) {
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
  return camera;
}
