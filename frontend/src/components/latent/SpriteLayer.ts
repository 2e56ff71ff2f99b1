// Digits as points on the map: deck.gl's IconLayer with the run's input-thumbnail sheet as its iconAtlas (icon i =
// tile i = the subset's i-th point) and a fragment shader that draws each digit's ink in the point's current
// colour (a dark colour lifted toward white, so it stands out) on a dark tile with a thin frame in the
// colour, so every colouring (label, prediction, component, confidence, split, the difference mode's)
// reads, and a dimmed or hidden point's tile is as faint or as absent as its dot would be (the tile's
// opacity is the point's alpha, the base strength drawn opaque).
import { IconLayer } from "@deck.gl/layers";
import type { IconFrame, SpriteMode, SpritePlan } from "@/lib/latent/sprites";

/** What ScatterCanvas needs to draw thumbnails (the `sprites` prop). */
export interface SpriteSheet {
  /** the sheet's PNG file name: a new key is a new sheet */
  key: string;
  image: ImageBitmap | HTMLImageElement | HTMLCanvasElement;
  mapping: Record<string, IconFrame>;
  mode: SpriteMode;
  /** the points' nearest-neighbour spacing quantile in world units (lib/latent/sprites nearestSpacing) */
  spacing: number;
  /** told when what the map draws changes (shown or not, auto's verdict, tile size) */
  onPlan?: (plan: SpritePlan) => void;
}

const FS = `\
#version 300 es
#define SHADER_NAME digit-sprite-layer-fragment-shader

precision highp float;

uniform sampler2D iconsTexture;

in float vColorMode;
in vec4 vColor;
in vec2 vTextureCoords;
in vec2 uv;

out vec4 fragColor;

const vec3 TILE = vec3(0.082, 0.090, 0.110);

void main(void) {
  geometry.uv = uv;
  // the sheet is grayscale: white ink on black
  float ink = texture(iconsTexture, vTextureCoords).r;
  float a = layer.opacity * vColor.a;
  if (a < icon.alphaCutoff) {
    discard;
  }
  // dark colours (indigo, wine) are lifted toward white for the ink, so every digit stands out from the tile;
  // the frame keeps the colour itself
  float lum = dot(vColor.rgb, vec3(0.2126, 0.7152, 0.0722));
  vec3 inkColour = mix(vColor.rgb, vec3(1.0), clamp((0.5 - lum) * 1.2, 0.0, 1.0));
  vec2 edge = abs(uv);
  float frame = step(0.9, max(edge.x, edge.y));
  fragColor = vec4(mix(mix(TILE, inkColour, ink), vColor.rgb, frame), a);
  DECKGL_FILTER_COLOR(fragColor, geometry);
}
`;

class DigitSpriteLayer extends IconLayer {
  static layerName = "DigitSpriteLayer";

  getShaders() {
    return { ...super.getShaders(), fs: FS };
  }
}

const iconOf = (_: unknown, { index }: { index: number }) => String(index);

// Tiles of points at full strength are drawn opaque, without blending: a software rasteriser pays for reading
// back every covered pixel, and 10,000 overlapping 24 px tiles are millions of them. Only when some points are
// dimmed (a focus or a filter) are all tiles blended at their points' opacity. solid(): the colours with
// every alpha of ALPHA.base or more raised to 255, or null when some point is dimmed.
const solids = new WeakMap<Uint8Array, Uint8Array | null>();
const FULL = 200; // points.ts ALPHA: base 220, dim 26, hidden 0

function solid(colours: Uint8Array): Uint8Array | null {
  if (solids.has(colours)) return solids.get(colours)!;
  let out: Uint8Array | null = colours.slice();
  for (let i = 3; i < out.length; i += 4) {
    if (out[i] >= FULL) out[i] = 255;
    else if (out[i] > 0) { out = null; break; }
  }
  solids.set(colours, out);
  return out;
}

// The layer's data object is kept while the buffers are the same, so a redraw (a zoom that resizes the
// tiles, a ring moving) does not make deck.gl recompute every point's icon frame.
const dataCache = new WeakMap<Float32Array, { colours: Uint8Array; n: number; data: unknown }>();

function dataOf(positions: Float32Array, colours: Uint8Array, n: number): unknown {
  const hit = dataCache.get(positions);
  if (hit && hit.colours === colours && hit.n === n) return hit.data;
  const data = { length: n, attributes: {
    getPosition: { value: positions, size: 3 },
    getColor: { value: colours, size: 4, normalized: true },
  } };
  dataCache.set(positions, { colours, n, data });
  return data;
}

/** The thumbnails layer (id "sprites"; icon i at point i), tiles `sizePx` tall, pickable like the points. */
export function spriteLayer(sheet: SpriteSheet, positions: Float32Array, colours: Uint8Array, n: number, sizePx: number, dims: number) {
  const opaque = solid(colours);
  return new DigitSpriteLayer({
    id: "sprites",
    data: dataOf(positions, opaque ?? colours, n) as never,
    iconAtlas: sheet.image as never,
    // one level, nearest texel: the digits' own pixels, and the cheapest filtering for software WebGL
    // (trilinear mipmapped filtering made 10,000 tiles 2.5x the bare points' frame, bilinear about 2.1x,
    // this about 1.9x; a one-channel texture was no faster)
    textureParameters: { minFilter: "nearest", magFilter: "nearest", mipmapFilter: "none" },
    // in 2-D every tile is at z = 0 and the order of drawing decides: no depth test
    parameters: { blend: !opaque, ...(dims > 2 ? {} : { depthCompare: "always", depthWriteEnabled: false }) },
    iconMapping: sheet.mapping,
    getIcon: iconOf as never,
    sizeUnits: "pixels",
    getSize: 1,
    sizeScale: sizePx,
    billboard: true,
    alphaCutoff: 0.02,
    pickable: true,
    updateTriggers: { getIcon: sheet.key },
  });
}
