"use client";
import Link from "next/link";
import { api } from "@/lib/api";
import { usePolled } from "@/lib/usePolled";
import { shortName } from "@/lib/sweeps";
import { Empty, ErrorBox, fullTime, timeAgo } from "./ui";

const POLL_MS = 2000;

function countsText(counts: Record<string, number>): string {
  return Object.entries(counts).map(([status, n]) => `${n} ${status}`).join(" · ");
}

export function SweepsList() {
  const { data: sweeps, error } = usePolled(api.listSweeps, POLL_MS);

  if (error && sweeps === null) return <ErrorBox title="The sweeps could not be listed.">{error}</ErrorBox>;
  if (sweeps === null) return <p className="muted">Loading sweeps…</p>;
  if (sweeps.length === 0) {
    return (
      <div className="panel">
        <Empty title="No sweeps yet.">
          From a terminal: <code>.venv/bin/latentdeck sweep --grid model_options.latent_dim=2,8 --seeds 0,1,2</code>, or{" "}
          <code>POST /api/sweeps</code>.
        </Empty>
      </div>
    );
  }
  return (
    <>
      {error ? <ErrorBox title="Lost contact with the server; showing the last list.">{error}</ErrorBox> : null}
      <div className="panel table-wrap">
        <table data-testid="sweeps-table">
          <thead><tr><th>sweep</th><th>kind</th><th>varies</th><th>seeds</th><th className="num">runs</th><th>status</th><th>created</th></tr></thead>
          <tbody>
            {sweeps.map((s) => (
              <tr key={s.sweep_id} data-sweep-id={s.sweep_id}>
                <td><Link href={`/sweeps/${encodeURIComponent(s.sweep_id)}/`} className="mono">{s.name}</Link></td>
                <td>{s.kind}</td>
                <td className="small">{s.params.map(shortName).join(", ") || "–"}</td>
                <td className="small">{s.seeds.join(", ")}</td>
                <td className="num">{s.members.length}</td>
                <td className="small">{countsText(s.counts)}</td>
                <td className="small" title={fullTime(s.created_at)}>{timeAgo(s.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
