"use client";
// A plugin's view with a page of its own (mount "page"): /runs/<id>/view/?name=<view>, told the run like any
// view; the run page links every page view (PageLinks.tsx).
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { useCallback, useMemo } from "react";
import { api } from "@/lib/api";
import type { RunDetail } from "@/lib/api";
import { useCatalogue } from "@/lib/latent/files";
import { phasesOf } from "@/lib/phases";
import { runName } from "@/lib/runName";
import { useRunId } from "@/lib/useRunId";
import { RunProblem, useRunDetail } from "@/components/RunView";
import { ErrorBox, StatusBadge } from "@/components/ui";
import { useViewRun } from "./run";
import { ViewSlot, useViews } from "./ViewSlot";

export function PluginPage() {
  const runId = useRunId();
  const { detail, error } = useRunDetail(runId);
  const name = useSearchParams().get("name"); // reactive: a link from the run page changes it without a reload
  if (runId === undefined) return <p className="muted">Loading…</p>;
  if (runId === null || error) return <RunProblem runId={runId} error={error} />;
  if (!detail) return <p className="muted">Loading run {runId}…</p>;
  return <PageFor runId={runId} detail={detail} name={name} />;
}

function PageFor({ runId, detail, name }: { runId: string; detail: RunDetail; name: string | null }) {
  const views = useViews("page");
  const phases = useMemo(() => phasesOf((detail as { phases?: unknown }).phases), [detail]);
  const run = useViewRun(runId, detail, phases);
  const files = useCatalogue(runId, detail.summary.status).catalogue.files; // live while the run trains
  const compute = useCallback((n: string, request: object) => api.compute(runId, n as never, request), [runId]);
  const view = views?.find((v) => v.name === name);
  return (
    <>
      <div className="page-head">
        <div>
          <h1>{view?.title ?? name ?? "A plugin's page"} <span className="mono muted" data-testid="run-title">{runName(detail.summary)}</span></h1>
          {runName(detail.summary) !== runId ? <div className="mono muted small">{runId}</div> : null}
          <div className="run-meta">
            <StatusBadge status={detail.summary.status} />
            <span>model <b>{detail.summary.model}</b></span>
            <span>dataset <b>{detail.summary.dataset}</b></span>
            <span>{detail.summary.epochs_completed}/{detail.summary.epochs ?? "?"} epochs</span>
            {view ? <span className="muted">a page of the plugin {view.provider}</span> : null}
          </div>
        </div>
        <div style={{ display: "flex", gap: "0.5rem", alignItems: "center" }}>
          <Link href={`/runs/${encodeURIComponent(runId)}/`} className="btn">← Training view</Link>
          <Link href={`/runs/${encodeURIComponent(runId)}/latent/`} className="btn">Latent explorer</Link>
        </div>
      </div>
      {view && run ? <ViewSlot mount="page" only={view.name} props={{ run, epoch: detail.summary.epochs_completed || null, files, compute }} />
        : views && !view ? (
          <ErrorBox title={`No plugin offers a page named “${name ?? ""}”.`}>
            {views.length ? <>The pages are: {views.map((v) => v.name).join(", ")}.</> : "No installed plugin offers a page."}
          </ErrorBox>
        ) : null}
    </>
  );
}
