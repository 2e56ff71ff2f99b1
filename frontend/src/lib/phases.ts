// The phases a model reports for a run (pretraining, prior initialisation, q(c|x) held, anneal windows),
// from the run detail's `phases` and the `model.phases` event: every time axis marks them.
import type { components } from "./api-schema";

/** One phase, in epochs (counted from 1): the server's `Phase` (latentdeck/phases.py). `kind: "span"` covers
 * epochs start..end; `kind: "moment"` happens between epoch start - 1 and epoch start (e.g. the prior
 * initialised before epoch 9). */
export type Phase = components["schemas"]["Phase"];

/** Phases from an API or event payload; anything malformed is dropped, never thrown on. */
export function phasesOf(raw: unknown): Phase[] {
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((p) => {
    if (!p || typeof p !== "object") return [];
    const r = p as Record<string, unknown>;
    if (typeof r.name !== "string" || typeof r.start !== "number" || typeof r.end !== "number") return [];
    return [{
      name: r.name, label: typeof r.label === "string" ? r.label : r.name,
      kind: r.kind === "moment" ? "moment" : "span", start: r.start, end: r.end,
      text: typeof r.text === "string" ? r.text : "",
    } satisfies Phase];
  });
}

/** The span phases that contain ``epoch`` (moments at ``epoch`` too: they happened just before it). */
export function phasesAt(phases: Phase[], epoch: number): Phase[] {
  return phases.filter((p) => epoch >= p.start && epoch <= p.end);
}
