// Re-orientation versus learning between two epochs' maps of the same points. The whole-map part of the move
// is the similarity transform y ≈ s·R·x + t (R orthogonal: a turn, or a mirror; s: uniform growth; t: shift)
// that fits the matched points best in least squares (orthogonal Procrustes with scale, Umeyama 1991:
// R = U Vᵀ and s = tr Σ / Σ|x − x̄|² from the SVD U Σ Vᵀ of Σ (y − ȳ)(x − x̄)ᵀ; mirrors allowed, because a
// projection's axes may flip sign). What it leaves, each point's residual, is points moving relative to
// each other: learning. Pure functions of the two files' coordinates (d = 2 or 3).
import { median, percent } from "./changes";

export interface SimilarityFit {
  dims: number;
  /** uniform scale s (1: the same size) */
  scale: number;
  /** R, dims x dims, rows: y = s · R x + t */
  rotation: number[][];
  translation: number[];
  /** R is a mirror (det R < 0) */
  reflection: boolean;
  /** how far the map turned: 2-D the signed angle (anticlockwise positive; 0 for a mirror, which is a flip
   * over a line); 3-D the rotation angle (of the rotoreflection's turn when mirrored); degrees */
  turnDeg: number;
  /** 2-D mirror: the angle of the line it flips over, from the first axis (0..180); else null */
  mirrorAxisDeg: number | null;
  /** |ȳ − x̄|: how far the map's centre moved */
  centreShift: number;
  /** per pair: |y − x| (the whole move) and |y − (sRx + t)| (what the transform leaves) */
  moved: Float64Array;
  residual: Float64Array;
  /** 1 − Σ residual² / Σ moved² (1 when nothing moved): the share of the movement the transform explains */
  explained: number;
}

const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);

/** Eigen-decomposition of a small symmetric matrix (cyclic Jacobi): values descending, vectors as columns. */
export function symmetricEigen(matrix: number[][]): { values: number[]; vectors: number[][] } {
  const d = matrix.length;
  const a = matrix.map((row) => [...row]);
  const v: number[][] = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += a[p][q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        if (Math.abs(a[p][q]) < 1e-300) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < d; k++) { // A J
          const akp = a[k][p], akq = a[k][q];
          a[k][p] = c * akp - s * akq; a[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) { // Jᵀ (A J)
          const apk = a[p][k], aqk = a[q][k];
          a[p][k] = c * apk - s * aqk; a[q][k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = v[k][p], vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq; v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: d }, (_, i) => i).sort((i, j) => a[j][j] - a[i][i]);
  return { values: order.map((i) => a[i][i]), vectors: v.map((row) => order.map((i) => row[i])) };
}

/** The orthogonal factor U Vᵀ of a small square matrix M = U Σ Vᵀ, and tr Σ. Directions where M is zero
 * (all points on a line, or none moved) get any orthonormal completion: they carry no points. */
export function orthogonalFactor(m: number[][]): { rotation: number[][]; traceSigma: number } {
  const d = m.length;
  const mtm = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => m.reduce((s, row) => s + row[i] * row[j], 0)));
  const { values, vectors } = symmetricEigen(mtm);
  const sigma = values.map((x) => Math.sqrt(Math.max(x, 0)));
  const vCol = (k: number) => vectors.map((row) => row[k]);
  const us: number[][] = [];
  for (let k = 0; k < d; k++) {
    if (sigma[k] > 1e-12 * Math.max(sigma[0], 1e-300)) {
      const vk = vCol(k);
      us.push(m.map((row) => dot(row, vk) / sigma[k]));
    } else {
      let best: number[] = [], bestNorm = -1;
      for (let e = 0; e < d; e++) { // Gram–Schmidt of the unit vector least covered by the columns so far
        const w = Array.from({ length: d }, (_, i) => (i === e ? 1 : 0));
        for (const u of us) { const p = dot(w, u); for (let i = 0; i < d; i++) w[i] -= p * u[i]; }
        const norm = Math.hypot(...w);
        if (norm > bestNorm) { bestNorm = norm; best = w.map((x) => x / norm); }
      }
      us.push(best);
    }
  }
  const rotation = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => us.reduce((s, u, k) => s + u[i] * vectors[j][k], 0)));
  return { rotation, traceSigma: sigma.reduce((s, x) => s + x, 0) };
}

function determinant(r: number[][]): number {
  if (r.length === 2) return r[0][0] * r[1][1] - r[0][1] * r[1][0];
  return r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1]) - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0])
    + r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
}

const DEG = 180 / Math.PI;

/** The similarity transform from `from` (the previous map) to `to` (this map), paired point by point. */
export function fitSimilarity(from: readonly ArrayLike<number>[], to: readonly ArrayLike<number>[], dims: number): SimilarityFit {
  const n = Math.min(from.length, to.length);
  const mean = (rows: readonly ArrayLike<number>[]) => Array.from({ length: dims }, (_, a) => (n ? rows.slice(0, n).reduce((s, p) => s + p[a], 0) / n : 0));
  const fx = mean(from), fy = mean(to);
  const m = Array.from({ length: dims }, () => new Array<number>(dims).fill(0));
  let spread = 0;
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < dims; a++) {
      const xa = from[i][a] - fx[a];
      spread += xa * xa;
      for (let b = 0; b < dims; b++) m[b][a] += (to[i][b] - fy[b]) * xa;
    }
  }
  const { rotation, traceSigma } = orthogonalFactor(m);
  const scale = spread > 0 ? traceSigma / spread : 1;
  const translation = fy.map((v, a) => v - scale * dot(rotation[a], fx));
  const moved = new Float64Array(n), residual = new Float64Array(n);
  let movedSq = 0, residualSq = 0;
  for (let i = 0; i < n; i++) {
    let dm = 0, dr = 0;
    for (let a = 0; a < dims; a++) {
      const fitted = scale * dot(rotation[a], from[i] as number[]) + translation[a];
      dm += (to[i][a] - from[i][a]) ** 2;
      dr += (to[i][a] - fitted) ** 2;
    }
    moved[i] = Math.sqrt(dm); residual[i] = Math.sqrt(dr);
    movedSq += dm; residualSq += dr;
  }
  const reflection = determinant(rotation) < 0;
  let turnDeg: number, mirrorAxisDeg: number | null = null;
  if (dims === 2) {
    const angle = Math.atan2(rotation[1][0], rotation[0][0]) * DEG;
    turnDeg = reflection ? 0 : angle;
    if (reflection) mirrorAxisDeg = (((angle / 2) % 180) + 180) % 180;
  } else {
    const trace = rotation.reduce((s, row, i) => s + row[i], 0);
    const cos = reflection ? (trace + 1) / 2 : (trace - 1) / 2; // a mirror in 3-D: a turn about an axis and a flip across its plane
    turnDeg = Math.acos(Math.min(1, Math.max(-1, cos))) * DEG;
  }
  return {
    dims, scale, rotation, translation, reflection, turnDeg, mirrorAxisDeg,
    centreShift: Math.hypot(...fy.map((v, a) => v - fx[a])), moved, residual,
    explained: movedSq > 0 ? Math.max(0, 1 - residualSq / movedSq) : 1,
  };
}

/** Apply the fitted transform to a point of the previous map (where the whole-map move alone takes it). */
export function applySimilarity(fit: SimilarityFit, p: ArrayLike<number>): number[] {
  return fit.rotation.map((row, a) => fit.scale * dot(row, p as number[]) + fit.translation[a]);
}

/** The longest side of the points' bounding box: the yardstick for "how far" on this map. */
export function spanOf(coords: readonly ArrayLike<number>[], dims: number): number {
  let span = 0;
  for (let a = 0; a < dims; a++) {
    let lo = Infinity, hi = -Infinity;
    for (const p of coords) { lo = Math.min(lo, p[a]); hi = Math.max(hi, p[a]); }
    if (hi > lo) span = Math.max(span, hi - lo);
  }
  return span;
}

export interface MoveWords {
  /** the whole-map part: "The map turned 12° anticlockwise and grew 8 %: that is re-orientation (…)" */
  reorientation: string;
  /** the rest: "The remaining median move is 3 % of the map's extent: that is learning (…)" */
  learning: string;
  medianResidual: number;
  medianMove: number;
}

const LEAST = 0.01; // under 1 % (or 1°) is said as "did not"

/** Both parts of the move in words; `span` is the shown map's extent (spanOf). */
export function describeMove(fit: SimilarityFit, span: number): MoveWords {
  const medianResidual = median([...fit.residual]), medianMove = median([...fit.moved]);
  const part = (x: number) => percent(x, span > 0 ? span : 1);
  const did: string[] = [];
  if (fit.reflection) did.push(fit.dims === 2 ? `was mirrored (flipped over a line at ${Math.round(fit.mirrorAxisDeg ?? 0)}° to the first axis)` : "was mirrored");
  if (Math.abs(fit.turnDeg) >= 1) {
    const way = fit.dims === 2 ? (fit.turnDeg > 0 ? " anticlockwise" : " clockwise") : "";
    did.push(`turned ${Math.round(Math.abs(fit.turnDeg))}°${way}`);
  }
  if (fit.scale >= 1 + LEAST) did.push(`grew ${Math.round(100 * (fit.scale - 1))} %`);
  else if (fit.scale <= 1 - LEAST) did.push(`shrank ${Math.round(100 * (1 - fit.scale))} %`);
  if (span > 0 && fit.centreShift / span >= LEAST) did.push(`shifted ${part(fit.centreShift)} of its extent`);
  const list = did.length > 1 ? `${did.slice(0, -1).join(", ")} and ${did[did.length - 1]}` : did[0];
  const reorientation = did.length
    ? `The map ${list}: that is re-orientation, the whole map moving as one (it accounts for ${percent(fit.explained, 1)} of the movement).`
    : "The map did not turn, mirror, grow or shift (each under 1° or 1 %): there is no re-orientation to speak of.";
  const learning = `The remaining median move is ${part(medianResidual)} of the map's extent: that is learning, points moving relative to each other`
    + (did.length ? ` (the whole move's median was ${part(medianMove)}).` : ".");
  return { reorientation, learning, medianResidual, medianMove };
}
