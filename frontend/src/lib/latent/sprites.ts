// Digits as points: where each point's thumbnail sits in the run's input-thumbnail sheet (one grayscale sprite,
// tile i of the subset at x = (i % columns) * w, y = floor(i / columns) * h), and when the map draws them.
//
// The auto rule: thumbnails are drawn SPRITE_PX wide when zoomed in far enough that they would not overlap
// much, i.e. when three in four points have their nearest neighbour (on screen, 2-D) at least
// AUTO_FRACTION x SPRITE_PX away, so most tiles overlap their nearest neighbour's by at most a fifth of
// their width. The spacing is measured once per map (in world units, x-y) and scaled by the zoom
// (orthographic: 2^zoom pixels per world unit), so panning and zooming cost nothing. Zoomed in further,
// tiles grow with the spacing up to MAX_SPRITE_PX. In 3-D the on-screen spacing depends on the depth and
// the rotation, so "auto" stays off there; "on" draws them at SPRITE_PX.

export type SpriteMode = "auto" | "on" | "off";
export const SPRITE_MODES: SpriteMode[] = ["auto", "on", "off"];

export const SPRITE_PX = 24;
export const MAX_SPRITE_PX = 48;
export const AUTO_FRACTION = 0.8;
export const SPACING_QUANTILE = 0.25;

/** The sheet index fields the layout needs (role "input-thumbnails": n, tile = [h, w], columns, rows). */
export interface SpriteLayout {
  n: number;
  tile: [number, number] | number[];
  columns: number;
  rows: number;
}

export interface IconFrame {
  x: number;
  y: number;
  width: number;
  height: number;
  mask: boolean;
}

/** Why a layout cannot be drawn from, or null when it can. */
export function layoutProblem(layout: SpriteLayout): string | null {
  const [h, w] = layout.tile ?? [];
  if (!(Number.isInteger(h) && Number.isInteger(w) && h > 0 && w > 0)) return `the sheet's tile size ${JSON.stringify(layout.tile)} is not two positive whole numbers`;
  if (!(Number.isInteger(layout.columns) && layout.columns > 0 && Number.isInteger(layout.rows) && layout.rows > 0)) {
    return `the sheet has ${layout.columns} columns and ${layout.rows} rows`;
  }
  if (layout.columns * layout.rows < layout.n) return `the sheet has ${layout.columns} x ${layout.rows} tiles for ${layout.n} points`;
  return null;
}

/** Tile i's frame in the sheet, in pixels (row-major, no padding). */
export function tileFrame(layout: SpriteLayout, i: number): IconFrame {
  const [h, w] = layout.tile;
  return { x: (i % layout.columns) * w, y: Math.floor(i / layout.columns) * h, width: w, height: h, mask: false };
}

/** deck.gl's IconLayer mapping: icon "i" is tile i (the i-th point of the subset). */
export function iconMapping(layout: SpriteLayout): Record<string, IconFrame> {
  const problem = layoutProblem(layout);
  if (problem) throw new Error(problem);
  const out: Record<string, IconFrame> = {};
  for (let i = 0; i < layout.n; i++) out[String(i)] = tileFrame(layout, i);
  return out;
}

/** Whether the sheet holds the map's points in the map's order (same count; same dataset indices when both say). */
export function sheetFits(sheet: SpriteLayout & { indices?: ArrayLike<number> }, indices: ArrayLike<number>): boolean {
  if (sheet.n !== indices.length) return false;
  if (!sheet.indices) return true;
  for (let i = 0; i < indices.length; i++) if (sheet.indices[i] !== indices[i]) return false;
  return true;
}

/** The SPACING_QUANTILE of the points' nearest-neighbour distances in the x-y plane (world units), from a
 * uniform grid (about two points per cell, rings searched outward); at most `sample` points are asked,
 * evenly spread over the order. 0 with fewer than two points. */
export function nearestSpacing(positions: Float32Array | number[], sample = 4000): number {
  const n = Math.floor(positions.length / 3);
  if (n < 2) return 0;
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = positions[3 * i], y = positions[3 * i + 1];
    if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
  }
  const span = Math.max(x1 - x0, y1 - y0, 1e-12);
  const cell = Math.max(Math.sqrt(((x1 - x0 || span) * (y1 - y0 || span) * 2) / n), span / 4096);
  const cols = Math.floor((x1 - x0) / cell) + 1, rows = Math.floor((y1 - y0) / cell) + 1;
  const cellOf = (i: number) => [Math.floor((positions[3 * i] - x0) / cell), Math.floor((positions[3 * i + 1] - y0) / cell)];
  const heads = new Int32Array(cols * rows).fill(-1), next = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const [cx, cy] = cellOf(i);
    next[i] = heads[cy * cols + cx];
    heads[cy * cols + cx] = i;
  }
  const step = Math.max(1, n / sample);
  const found: number[] = [];
  for (let s = 0; s < n; s += step) {
    const i = Math.floor(s), [cx, cy] = cellOf(i);
    const px = positions[3 * i], py = positions[3 * i + 1];
    let best = Infinity;
    for (let r = 0; r <= Math.max(cols, rows); r++) {
      if (best <= ((r - 1) * cell) ** 2) break; // every point in ring r is at least (r - 1) cells away
      for (let gy = cy - r; gy <= cy + r; gy++) {
        if (gy < 0 || gy >= rows) continue;
        for (let gx = cx - r; gx <= cx + r; gx++) {
          if (gx < 0 || gx >= cols || (Math.abs(gx - cx) !== r && Math.abs(gy - cy) !== r)) continue;
          for (let j = heads[gy * cols + gx]; j !== -1; j = next[j]) {
            if (j === i) continue;
            const d = (positions[3 * j] - px) ** 2 + (positions[3 * j + 1] - py) ** 2;
            if (d < best) best = d;
          }
        }
      }
    }
    found.push(Math.sqrt(best));
  }
  found.sort((a, b) => a - b);
  return found[Math.min(found.length - 1, Math.floor(SPACING_QUANTILE * found.length))];
}

export interface SpritePlan {
  /** draw the thumbnails (instead of dots) */
  show: boolean;
  /** what "auto" would do at this zoom */
  auto: boolean;
  sizePx: number;
  /** the spacing quantile on screen, in pixels (0 in 3-D) */
  spacingPx: number;
}

/** What the map draws for a mode at a zoom (2-D: 2^zoom pixels per world unit). */
export function spritePlan(mode: SpriteMode, spacing: number, zoom: number, dims: number): SpritePlan {
  const spacingPx = dims === 2 && spacing > 0 ? spacing * 2 ** zoom : 0;
  const auto = spacingPx >= AUTO_FRACTION * SPRITE_PX;
  const sizePx = Math.round(Math.min(MAX_SPRITE_PX, Math.max(SPRITE_PX, spacingPx / AUTO_FRACTION)));
  return { show: mode === "on" || (mode === "auto" && auto), auto, sizePx, spacingPx };
}

/** The zoom at which "auto" turns the thumbnails on (2-D), for a spacing in world units. */
export function autoZoom(spacing: number): number {
  return spacing > 0 ? Math.log2((AUTO_FRACTION * SPRITE_PX) / spacing) : Infinity;
}
