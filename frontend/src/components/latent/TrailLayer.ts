// The difference mode's trails: one line per point from where it was at the previous epoch to where it is,
// drawn under the points and fading toward the old end (deck.gl's LineLayer passes the position along the
// line to the fragment shader as geometry.uv.x: 0 at the source, 1 at the target).
import { LineLayer } from "@deck.gl/layers";
import type { TrailSet } from "@/lib/latent/changes";

const FADE = "color.a *= mix(0.12, 1.0, smoothstep(0.0, 1.0, geometry.uv.x));";

class FadingLineLayer extends LineLayer {
  static layerName = "FadingLineLayer";

  getShaders() {
    const shaders = super.getShaders();
    return { ...shaders, inject: { ...(shaders.inject ?? {}), "fs:DECKGL_FILTER_COLOR": FADE } };
  }
}

/** The deck.gl layer (id "trails"; data length = one line per point in both epochs). */
export function trailLayer(trails: TrailSet, widthPx = 1.6) {
  return new FadingLineLayer({
    id: "trails",
    data: { length: trails.count, attributes: {
      getSourcePosition: { value: trails.from, size: 3 },
      getTargetPosition: { value: trails.to, size: 3 },
      getColor: { value: trails.colours, size: 4, normalized: true },
    } } as never,
    widthUnits: "pixels", getWidth: widthPx,
  });
}
