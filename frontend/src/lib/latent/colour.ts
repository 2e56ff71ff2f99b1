// Point colours. The digit palette is chosen so that all ten colours stay apart (CIEDE2000 ≥ 11 between
// every pair) in normal vision and in simulated protanopia, deuteranopia and tritanopia, with the pairs
// of digits a model most often confuses (4/9, 3/5/8, 7/9, 1/7) furthest apart; the unit tests check it.

export type RGB = [number, number, number];

export const DIGIT_PALETTE: readonly string[] = [
  "#cc3311", // 0 vermilion
  "#999999", // 1 grey
  "#6699cc", // 2 steel blue
  "#882255", // 3 wine
  "#cc6677", // 4 rose
  "#e69f00", // 5 orange
  "#0072b2", // 6 blue
  "#332288", // 7 indigo
  "#66ccee", // 8 cyan
  "#f0e442", // 9 yellow
];

export function hexToRgb(hex: string): RGB {
  const h = hex.replace("#", "");
  return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)];
}

const PALETTE_RGB = DIGIT_PALETTE.map(hexToRgb);

/** Colour of a category (digit, prediction or the model's component); more than ten categories repeat. */
export function categoryColour(c: number): RGB {
  return PALETTE_RGB[((c % PALETTE_RGB.length) + PALETTE_RGB.length) % PALETTE_RGB.length];
}

const VIRIDIS: RGB[] = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

function mix(a: RGB, b: RGB, t: number): RGB {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

export function viridis(t: number): RGB {
  const x = Math.min(Math.max(Number.isFinite(t) ? t : 0, 0), 1) * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(x), VIRIDIS.length - 2);
  return mix(VIRIDIS[i], VIRIDIS[i + 1], x - i);
}

/** Confidence in [floor, 1] (floor = 1 / classes: a uniform guess) to [0, 1] for the colour scale. */
export function confidenceT(value: number, floor: number): number {
  if (!Number.isFinite(value)) return 0;
  return Math.min(Math.max((value - floor) / Math.max(1 - floor, 1e-9), 0), 1);
}

export function cssRgb([r, g, b]: RGB): string {
  return `rgb(${Math.round(r)}, ${Math.round(g)}, ${Math.round(b)})`;
}

export function gradientCss(f: (t: number) => RGB, stops = 10): string {
  return `linear-gradient(to right, ${Array.from({ length: stops + 1 }, (_, i) => `${cssRgb(f(i / stops))} ${(100 * i) / stops}%`).join(", ")})`;
}

export const TRAINED_COLOURS: Record<"trained" | "heldout" | "train_unused", RGB> = {
  trained: hexToRgb("#0072b2"),
  heldout: hexToRgb("#e69f00"),
  train_unused: hexToRgb("#999999"),
};
