// Epoch transitions: points move from their old to their new coordinates. The projections are
// warm-started from the previous epoch, so point i of one epoch file and point i of the next are the same
// example (the fixed visualization subset) in comparable coordinates.

/** Smooth start and stop; exactly 0 at 0 and 1 at 1. */
export function ease(t: number): number {
  if (t <= 0) return 0;
  if (t >= 1) return 1;
  return t < 0.5 ? 4 * t * t * t : 1 - Math.pow(-2 * t + 2, 3) / 2;
}

/** Positions at time t in [0, 1] of the transition (eased). The endpoints are exact copies. */
export function interpolatePositions(from: Float32Array, to: Float32Array, t: number, out?: Float32Array): Float32Array {
  const n = to.length;
  const result = out && out.length === n ? out : new Float32Array(n);
  if (from.length !== n || t >= 1) {
    result.set(to);
    return result;
  }
  if (t <= 0) {
    result.set(from);
    return result;
  }
  const e = ease(t);
  for (let i = 0; i < n; i++) result[i] = from[i] + (to[i] - from[i]) * e;
  return result;
}

/** Map the previous epoch's positions onto the new file's point order (by dataset key); points that are
 * new start at their final place. Returns null when the orders already agree. */
export function alignPrevious(prevKeys: string[], prev: Float32Array, nextKeys: string[], next: Float32Array): Float32Array | null {
  if (prevKeys.length === nextKeys.length && prevKeys.every((k, i) => k === nextKeys[i])) return null;
  const at = new Map(prevKeys.map((k, i) => [k, i]));
  const out = new Float32Array(next.length);
  nextKeys.forEach((key, i) => {
    const j = at.get(key);
    for (let a = 0; a < 3; a++) out[3 * i + a] = j === undefined ? next[3 * i + a] : prev[3 * j + a];
  });
  return out;
}
