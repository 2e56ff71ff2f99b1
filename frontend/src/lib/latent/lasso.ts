// Lasso selection in screen pixels (2-D): which points fall inside a drawn polygon.

export type Point2 = [number, number];

/** Even-odd rule point-in-polygon test (the polygon is closed implicitly). */
export function insidePolygon(x: number, y: number, polygon: Point2[]): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i], [xj, yj] = polygon[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Positions (subset order) of the points whose screen position (x, y pairs) lies inside the polygon. */
export function pointsInLasso(screen: Float32Array | number[], polygon: Point2[]): number[] {
  if (polygon.length < 3) return [];
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const [x, y] of polygon) {
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  const picked: number[] = [];
  for (let i = 0; i < screen.length / 2; i++) {
    const x = screen[2 * i], y = screen[2 * i + 1];
    if (x < x0 || x > x1 || y < y0 || y > y1) continue;
    if (insidePolygon(x, y, polygon)) picked.push(i);
  }
  return picked;
}
