"use client";
import Link from "next/link";
import { useEffect, useState } from "react";
import { api } from "@/lib/api";
import type { Artifact } from "@/lib/api";
import { useRunId } from "@/lib/useRunId";
import { RunProblem, useRunDetail } from "./RunView";
import { Empty, StatusBadge } from "./ui";

const PROJECTION = /^projections\/latent_(\d)d_epoch_(\d+)(?:_(.+))?\.json$/;

/** The latent explorer's page: it loads the run and lists its projections (the explorer itself comes later). */
export function LatentView() {
  const runId = useRunId();
  return <LatentViewFor key={runId ?? ""} runId={runId} />;
}

function LatentViewFor({ runId }: { runId: string | null | undefined }) {
  const { detail, error } = useRunDetail(runId);
  const [artifacts, setArtifacts] = useState<Artifact[] | null>(null);
  useEffect(() => {
    if (!runId || !detail) return;
    api.listArtifacts(runId).then(setArtifacts, () => setArtifacts([]));
  }, [runId, detail]);

  if (runId === undefined) return <p className="muted">Loading…</p>;
  if (runId === null || error) return <RunProblem runId={runId} error={error} />;
  if (!detail) return <p className="muted">Loading run {runId}…</p>;

  const rows = (artifacts ?? []).map((a) => PROJECTION.exec(a.name)).filter((m): m is RegExpExecArray => m !== null);
  const methods = new Map<string, Set<number>>();
  for (const m of rows) {
    const key = `${m[3] ?? "pca"} ${m[1]}-D`;
    if (!methods.has(key)) methods.set(key, new Set());
    methods.get(key)!.add(Number(m[2]));
  }
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Latent space <span className="mono muted" data-testid="run-title">{detail.summary.name || runId}</span></h1>
          <div className="run-meta">
            <StatusBadge status={detail.summary.status} />
            <span>model <b>{detail.summary.model}</b></span>
            <span>{detail.summary.epochs_completed}/{detail.summary.epochs ?? "?"} epochs</span>
          </div>
        </div>
        <Link href={`/runs/${encodeURIComponent(runId)}/`} className="btn">← Training view</Link>
      </div>
      <section className="panel" data-testid="latent-projections">
        <h2>Projections on disk</h2>
        {artifacts === null ? <p className="muted">Loading artifacts…</p> : methods.size === 0 ? (
          <Empty title="This run has no projections yet.">They are written after each epoch (or by <code>latentdeck backfill {runId}</code>).</Empty>
        ) : (
          <table>
            <thead><tr><th>projection</th><th>epochs</th></tr></thead>
            <tbody>
              {[...methods.entries()].sort().map(([k, eps]) => (
                <tr key={k}><td>{k}</td><td className="mono small">{[...eps].sort((a, b) => a - b).join(", ")}</td></tr>
              ))}
            </tbody>
          </table>
        )}
        <p className="muted small">The interactive explorer (2-D/3-D scatter, neighbours, density) arrives in a later version; it will draw these files.</p>
      </section>
    </>
  );
}
