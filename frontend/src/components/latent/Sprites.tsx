"use client";
// Digits as points, the page's side: the input-thumbnail sheet loaded once as an image, its icon mapping, the
// map's point spacing (for the auto rule, lib/latent/sprites) and the "digits: auto / on / off" switch in the
// map's toolbar. ScatterCanvas draws the thumbnails (SpriteLayer) from the `sprites` prop.
import { useCallback, useEffect, useMemo, useState } from "react";
import { api } from "@/lib/api";
import type { ProjectionDoc, SheetDoc } from "@/lib/latent/points";
import { AUTO_FRACTION, MAX_SPRITE_PX, SPRITE_MODES, SPRITE_PX, iconMapping, layoutProblem, nearestSpacing, sheetFits } from "@/lib/latent/sprites";
import type { SpriteMode, SpritePlan } from "@/lib/latent/sprites";
import type { SpriteSheet } from "./SpriteLayer";
import ui from "@/viewkit/ui.module.css";

export interface Sprites {
  mode: SpriteMode;
  setMode: (m: SpriteMode) => void;
  /** what the map draws now (null until it has drawn) */
  plan: SpritePlan | null;
  /** the ScatterCanvas prop: null without a fitting input sheet or before its sheet has loaded */
  sheet: SpriteSheet | null;
  /** why there are no thumbnails (no input sheet, another subset, a sheet that failed to load) */
  problem: string | null;
}

type Loaded = { png: string; image: ImageBitmap | null; error: string | null };

export function useSprites({ runId, inputs, doc, positions, initial }: {
  runId: string; inputs: SheetDoc | null; doc: ProjectionDoc | null; positions: Float32Array;
  /** the mode the page address asked for */
  initial?: string;
}): Sprites {
  const [mode, setMode] = useState<SpriteMode>(() => SPRITE_MODES.find((m) => m === initial) ?? "auto");
  const [plan, setPlan] = useState<SpritePlan | null>(null);
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const fits = !!inputs && !!doc && sheetFits(inputs, doc.indices);
  const layout = inputs && fits ? layoutProblem(inputs) : null;
  const png = inputs && fits && !layout ? inputs.png : null;
  useEffect(() => {
    if (!png || loaded?.png === png) return;
    let current = true;
    // the sheet's raw grey values (no colour-space change): the shader reads them as ink
    fetch(api.artifactUrl(runId, png))
      .then((r) => { if (!r.ok) throw new Error(`${png}: the server answered ${r.status}`); return r.blob(); })
      .then((blob) => createImageBitmap(blob, { premultiplyAlpha: "none", colorSpaceConversion: "none" }))
      .then((image) => { if (current) setLoaded({ png, image, error: null }); },
        (e: unknown) => { if (current) setLoaded({ png, image: null, error: e instanceof Error ? e.message : String(e) }); });
    return () => { current = false; };
  }, [runId, png, loaded?.png]);
  const mapping = useMemo(() => (png && inputs ? iconMapping(inputs) : null), [png, inputs]);
  // the spacing is measured when the page is idle after a new map is drawn, not on the way to its first frame
  // (an epoch switch); until then the last map's stands in, and one within 5 % of it is kept (no re-render)
  const dims = doc?.dims ?? 2;
  const [spacing, setSpacing] = useState<number | null>(null);
  useEffect(() => {
    if (!png) return;
    const measure = () => {
      const next = dims === 2 ? nearestSpacing(positions, 2000) : 0;
      setSpacing((prev) => (prev !== null && Math.abs(next - prev) <= 0.05 * prev ? prev : next));
    };
    if (typeof window.requestIdleCallback !== "function") {
      const timer = window.setTimeout(measure, 300);
      return () => window.clearTimeout(timer);
    }
    const idle = window.requestIdleCallback(measure, { timeout: 1000 });
    return () => window.cancelIdleCallback(idle);
  }, [png, positions, dims]);
  const onPlan = useCallback((next: SpritePlan) => setPlan((prev) => (prev && prev.show === next.show && prev.auto === next.auto
    && prev.sizePx === next.sizePx ? prev : next)), []);
  const image = loaded?.png === png ? loaded.image : null;
  const sheet = useMemo(() => (png && image && mapping && spacing !== null ? { key: png, image, mapping, mode, spacing, onPlan } : null),
    [png, image, mapping, mode, spacing, onPlan]);
  const problem = !inputs ? "this run has no input thumbnails (latentdeck backfill <run> writes the missing files)"
    : !fits ? "the input thumbnails hold another subset than this map" : layout ?? (loaded?.png === png ? loaded.error : null);
  return { mode, setMode, plan: sheet ? plan : null, sheet, problem };
}

const RULE = `auto: thumbnails appear in 2-D once three in four points are at least ${AUTO_FRACTION * SPRITE_PX} px from their nearest neighbour`
  + ` on screen (${SPRITE_PX} px tiles overlap by at most a fifth), and grow to ${MAX_SPRITE_PX} px as you zoom in`;

/** "digits: auto / on / off" in the map's toolbar; auto says whether it draws them now. */
export function SpritesToggle({ sprites }: { sprites: Sprites }) {
  const { mode, setMode, plan, problem } = sprites;
  const off = problem !== null;
  return (
    <div title={off ? `No digit thumbnails: ${problem}` : `Draw each point as its digit, in the point's colour. ${RULE}.`}
      style={{ display: "flex", alignItems: "center", gap: "0.45rem" }}>
      <span className={ui.fieldLabel} style={{ margin: 0 }}>digits</span>
      <div className={ui.seg} role="group" aria-label="digits as points" data-testid="sprites-toggle" data-mode={mode}
        data-shown={plan?.show ? "true" : "false"} data-auto={plan?.auto ? "true" : "false"} data-size={plan?.show ? plan.sizePx : ""}>
        {SPRITE_MODES.map((m) => (
          <button key={m} type="button" aria-pressed={mode === m} disabled={off} data-value={m} onClick={() => setMode(m)}>
            {m === "auto" && mode === "auto" && plan ? `auto (${plan.show ? "on" : "off"})` : m}
          </button>
        ))}
      </div>
    </div>
  );
}
