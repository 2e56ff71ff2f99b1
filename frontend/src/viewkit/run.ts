"use client";
// The run as every view is told it (ViewRun): from the run's detail, its phases and the dataset's class names.
import { useEffect, useMemo, useState } from "react";
import { api } from "@/lib/api";
import type { RunDetail } from "@/lib/api";
import type { Phase } from "@/lib/phases";
import type { ViewRun } from "./contract";

const DIGITS = Array.from({ length: 10 }, (_, i) => String(i));

/** The dataset's class names (from GET /api/components), the digits until they arrive or when it names none. */
export function useClassNames(dataset: string | undefined): string[] {
  const [names, setNames] = useState<string[]>(DIGITS);
  useEffect(() => {
    if (!dataset) return;
    api.components().then((c) => {
      const row = (c.datasets ?? []).find((d) => d.name === dataset) as { class_names?: string[] } | undefined;
      if (row?.class_names?.length) setNames(row.class_names);
    }, () => undefined);
  }, [dataset]);
  return names;
}

/** The ViewRun of a loaded run (null while its detail loads). */
export function useViewRun(runId: string | null | undefined, detail: RunDetail | null, phases: Phase[]): ViewRun | null {
  const config = (detail?.config ?? null) as Record<string, unknown> | null;
  const classes = useClassNames(config ? String(config.dataset ?? "") : undefined);
  return useMemo(() => (runId && detail && config ? {
    id: runId, status: detail.summary.status, model: detail.summary.model ?? null,
    dataset: String(config.dataset ?? "") || null, config, phases, classes,
  } : null), [runId, detail, config, phases, classes]);
}
