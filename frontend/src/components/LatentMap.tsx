"use client";
import { useEffect, useMemo, useRef, useState } from "react";
import { api } from "@/lib/api";
import { overlayColour, OVERLAY_LABELS, type OverlayKind } from "@/lib/overlays";
import type { GridDoc, ProjectionDoc } from "@/lib/overlays";
import { ErrorBox } from "./ui";

// A 2-D latent map drawn on a canvas from persisted files only: the projection's coordinates (points
// coloured by label) over an optional heatmap of a persisted grid (density or distortion) on the same
// bounds. Nothing is computed here but pixel transforms and colours.

const SIZE = 620; // CSS px, square
const PAD = 14;
const PICK_PX = 8;
export const LABEL_COLOURS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#637939"];

export type Loaded<T> = { name: string; doc: T | null; error: string | null };

/** Fetch one artifact JSON by name; null while loading (or when ``name`` is null). */
export function useJson<T>(runId: string, name: string | null): Loaded<T> | null {
  const [state, setState] = useState<Loaded<T> | null>(null);
  useEffect(() => {
    if (!name) return;
    let cancelled = false;
    fetch(api.artifactUrl(runId, name)).then(async (r) => {
      if (!r.ok) throw new Error(`the server answered ${r.status}`);
      return (await r.json()) as T;
    }).then(
      (doc) => { if (!cancelled) setState({ name, doc, error: null }); },
      (e: unknown) => { if (!cancelled) setState({ name, doc: null, error: String(e instanceof Error ? e.message : e) }); },
    );
    return () => { cancelled = true; };
  }, [runId, name]);
  return name && state?.name === name ? state : null;
}

/** Pixel transform of a projection: equal scale on both axes (distances keep their proportions), centred. */
function transformOf(bounds: number[][]) {
  const [[x0, x1], [y0, y1]] = bounds;
  const xr = Math.max(x1 - x0, 1e-9), yr = Math.max(y1 - y0, 1e-9);
  const s = Math.min((SIZE - 2 * PAD) / xr, (SIZE - 2 * PAD) / yr);
  const ox = PAD + ((SIZE - 2 * PAD) - xr * s) / 2, oy = PAD + ((SIZE - 2 * PAD) - yr * s) / 2;
  return {
    x: (v: number) => ox + (v - x0) * s,
    y: (v: number) => SIZE - oy - (v - y0) * s,
  };
}

function gridImage(kind: OverlayKind, doc: GridDoc): HTMLCanvasElement {
  const { nx, ny } = doc.grid;
  const canvas = document.createElement("canvas");
  canvas.width = nx;
  canvas.height = ny;
  const ctx = canvas.getContext("2d")!;
  const image = ctx.createImageData(nx, ny);
  for (let r = 0; r < ny; r++) {
    for (let c = 0; c < nx; c++) {
      const [red, green, blue, alpha] = overlayColour(kind, doc.values[r * nx + c], doc.stats);
      const at = ((ny - 1 - r) * nx + c) * 4; // row 0 of the file is the bottom of the plot
      image.data[at] = red;
      image.data[at + 1] = green;
      image.data[at + 2] = blue;
      image.data[at + 3] = alpha;
    }
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

export function LatentMap({ runId, projectionName, overlay, selectedIndex, onSelect }: {
  runId: string;
  projectionName: string;
  overlay: { kind: OverlayKind; name: string; grid: Loaded<GridDoc> | null } | null;
  selectedIndex: number | null;
  onSelect: (index: number) => void;
}) {
  const projection = useJson<ProjectionDoc>(runId, projectionName);
  const grid = overlay?.grid ?? null;
  const canvasRef = useRef<HTMLCanvasElement | null>(null);
  const [hover, setHover] = useState<number | null>(null);
  const doc = projection?.doc ?? null;
  const gridDoc = overlay && grid?.doc ? grid.doc : null;
  const drawnKind: OverlayKind = overlay && gridDoc ? overlay.kind : "none";

  const pixels = useMemo(() => {
    if (!doc || doc.dims < 2) return null;
    const t = transformOf(doc.bounds);
    return { t, xs: doc.coords.map((p) => t.x(p[0])), ys: doc.coords.map((p) => t.y(p[1])) };
  }, [doc]);

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas || !doc || !pixels) return;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = SIZE * dpr;
    canvas.height = SIZE * dpr;
    const ctx = canvas.getContext("2d")!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, SIZE, SIZE);
    if (gridDoc && overlay) {
      const [[x0, x1], [y0, y1]] = gridDoc.bounds;
      const left = pixels.t.x(x0), right = pixels.t.x(x1), top = pixels.t.y(y1), bottom = pixels.t.y(y0);
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(gridImage(overlay.kind, gridDoc), left, top, right - left, bottom - top);
    }
    const radius = doc.n > 2000 ? 1.7 : doc.n > 500 ? 2.4 : 3.4;
    ctx.globalAlpha = gridDoc ? 0.9 : 0.8;
    for (let i = 0; i < doc.n; i++) {
      ctx.fillStyle = LABEL_COLOURS[doc.labels[i] % LABEL_COLOURS.length];
      ctx.beginPath();
      ctx.arc(pixels.xs[i], pixels.ys[i], radius, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    const ring = (i: number, colour: string, width: number) => {
      ctx.strokeStyle = colour;
      ctx.lineWidth = width;
      ctx.beginPath();
      ctx.arc(pixels.xs[i], pixels.ys[i], radius + 4, 0, 2 * Math.PI);
      ctx.stroke();
    };
    const selected = selectedIndex === null ? -1 : doc.indices.indexOf(selectedIndex);
    if (selected >= 0) {
      ring(selected, "#ffffff", 4);
      ring(selected, "#111111", 2);
    }
    if (hover !== null && hover !== selected) ring(hover, "#111111", 1);
  }, [doc, pixels, gridDoc, overlay, selectedIndex, hover]);

  const pick = (event: React.MouseEvent<HTMLCanvasElement>): number | null => {
    if (!pixels) return null;
    const box = event.currentTarget.getBoundingClientRect();
    const x = ((event.clientX - box.left) * SIZE) / box.width, y = ((event.clientY - box.top) * SIZE) / box.height;
    let best: number | null = null, bestD = PICK_PX * PICK_PX;
    for (let i = 0; i < pixels.xs.length; i++) {
      const d = (pixels.xs[i] - x) ** 2 + (pixels.ys[i] - y) ** 2;
      if (d <= bestD) { best = i; bestD = d; }
    }
    return best;
  };

  if (!projection) return <p className="muted">Loading {projectionName}…</p>;
  if (projection.error || !doc) {
    return <ErrorBox title={`The projection file ${projectionName} could not be loaded.`}>{projection.error} Reload the page, or rebuild it with <code>latentdeck backfill {runId}</code>.</ErrorBox>;
  }
  const selectedAt = selectedIndex === null ? -1 : doc.indices.indexOf(selectedIndex);
  const tipAt = hover ?? (selectedAt >= 0 ? selectedAt : null);
  const ratio = gridDoc?.point_ratio && tipAt !== null ? gridDoc.point_ratio[tipAt] : undefined;
  return (
    <div className="latent-map-wrap">
      <div style={{ position: "relative", width: SIZE, maxWidth: "100%" }}>
        <canvas ref={canvasRef} data-testid="latent-canvas" data-points={doc.n} data-overlay={drawnKind}
          data-overlay-name={gridDoc ? overlay?.name : ""} data-selected={selectedIndex ?? ""}
          data-first-point={pixels && doc.n ? `${pixels.xs[0].toFixed(1)},${pixels.ys[0].toFixed(1)}` : ""}
          style={{ width: SIZE, maxWidth: "100%", aspectRatio: "1", display: "block", cursor: hover !== null ? "pointer" : "crosshair",
            border: "1px solid var(--border)", borderRadius: 8, background: "var(--bg)" }}
          onMouseMove={(e) => setHover(pick(e))} onMouseLeave={() => setHover(null)}
          onClick={(e) => { const i = pick(e); if (i !== null) onSelect(doc.indices[i]); }} />
        {tipAt !== null ? (
          <div data-testid="latent-tooltip" className="small" style={{ position: "absolute", left: Math.min((pixels?.xs[tipAt] ?? 0) + 12, SIZE - 190),
            top: Math.max((pixels?.ys[tipAt] ?? 0) - 44, 0), background: "var(--panel)", border: "1px solid var(--border)", borderRadius: 6,
            padding: "0.2rem 0.5rem", pointerEvents: "none", boxShadow: "var(--shadow)", whiteSpace: "nowrap" }}>
            <b>#{doc.indices[tipAt]}</b> · label <b>{doc.labels[tipAt]}</b>
            {doc.predicted ? <> · predicted <b>{doc.predicted[tipAt]}</b></> : null}
            {doc.component ? <> · component <b>{doc.component[tipAt]}</b></> : null}
            {ratio !== undefined && ratio !== null ? <> · ratio <b>{ratio.toPrecision(3)}</b></> : null}
          </div>
        ) : null}
      </div>
      {overlay && grid?.error ? (
        <ErrorBox title={`The ${OVERLAY_LABELS[overlay.kind]} file could not be loaded.`}>{overlay.name}: {grid.error}.</ErrorBox>
      ) : null}
    </div>
  );
}
