"use client";
// The page's one component mapping: chosen once from the newest cluster-scores file when the page opens
// (so colours stay put while the timeline plays or the run trains on), shared through a React context with
// the map's colours, the legend, the hover card, the cluster-scores view and compare mode. A newer file can be
// adopted on request ("match again at epoch N").
import { createContext, useContext, useMemo, useState } from "react";
import { scoreEpochs } from "./catalogue";
import type { Catalogue } from "./catalogue";
import { useRunJson } from "./files";
import { mappingNote, mappingOf } from "./matching";
import type { ClusterScores, ComponentMapping } from "./matching";

export interface MappingState {
  mapping: ComponentMapping | null;
  note: string; // where the colours come from, for people
  newer: number | null; // a newer cluster file's epoch the person may match again at
  rematch: () => void;
}

const NONE: MappingState = { mapping: null, note: "", newer: null, rematch: () => undefined };
export const ComponentMappingContext = createContext<MappingState>(NONE);

/** The mapping this page uses: from the newest cluster file when the page first saw one, kept after. */
export function useComponentMapping(runId: string, catalogue: Catalogue, listed: boolean): MappingState {
  const epochs = scoreEpochs(catalogue);
  const latest = epochs.length ? epochs[epochs.length - 1] : null;
  const [chosen, setChosen] = useState<number | null>(null);
  if (chosen === null && latest !== null) setChosen(latest); // once: later files do not move the colours
  const loaded = useRunJson<ClusterScores>(runId, chosen !== null ? catalogue.clusterScores.get(chosen) ?? null : null);
  const quality = loaded?.doc ?? null;
  const error = loaded?.error ?? null;
  const waiting = !listed || (chosen !== null && !loaded);
  const newer = latest !== null && chosen !== null && latest > chosen ? latest : null;
  return useMemo<MappingState>(() => {
    if (waiting) return { ...NONE, note: "colours: loading the cluster file…" };
    const mapping = mappingOf(quality);
    return {
      mapping, newer, rematch: () => setChosen(newer),
      note: error ? `colours not matched: ${error}` : mappingNote(mapping, quality, runId),
    };
  }, [waiting, quality, error, newer, runId]);
}

/** The mapping of the page this component is on (components by number outside a provider). */
export function useMapping(): MappingState {
  return useContext(ComponentMappingContext);
}
