"use client";
import Link from "next/link";
import { useMemo, useState } from "react";
import { api, isActive } from "@/lib/api";
import { usePolled } from "@/lib/usePolled";
import type { SweepDetail, SweepMember } from "@/lib/api";

/** Poll while a member is queued or training (and until the first answer); one last load after. */
const stillLive = (sweep: SweepDetail | null) => sweep === null || sweep.members.some((m) => isActive(m.status));
import { fmt } from "@/lib/runState";
import { groupBySetting, higherIsBetter, meanStd, metricNames, paramOf, shortName, valueText } from "@/lib/sweeps";
import { useRouteId } from "@/lib/useRunId";
import { ParamVsMetric, SweepCurves } from "./SweepCharts";
import { SweepMaps } from "./SweepMaps";
import { ErrorBox, StatusBadge, fullTime } from "./ui";

const POLL_MS = 2000;
type Metrics = Record<string, number>;

function metricOf(m: SweepMember, which: "final" | "best", metric: string): number | undefined {
  const v = ((m[which] ?? {}) as Metrics)[metric];
  return Number.isFinite(v) ? v : undefined;
}

export function SweepView() {
  const sweepId = useRouteId("sweeps");
  const [metric, setMetric] = useState("");
  const [colourBy, setColourBy] = useState("");
  const [sort, setSort] = useState<{ key: string; desc: boolean }>({ key: "", desc: false });

  const fetchSweep = useMemo(() => (sweepId ? () => api.getSweep(sweepId) : null), [sweepId]);
  const { data: sweep, error } = usePolled(fetchSweep, POLL_MS, stillLive);

  const metrics = useMemo(() => metricNames(sweep?.members ?? []), [sweep]);
  const params = useMemo(() => [...(sweep?.params ?? []), ...((sweep?.seeds.length ?? 0) > 1 || !sweep?.params.length ? ["seed"] : [])], [sweep]);
  const shownMetric = metric && metrics.includes(metric) ? metric : metrics[0] ?? "loss";
  const shownColour = colourBy && params.includes(colourBy) ? colourBy : params[0] ?? "seed";

  if (sweepId === undefined) return null;
  if (sweepId === null) return <ErrorBox title="No sweep id in the address.">Open a sweep from <Link href="/sweeps/">the sweeps list</Link>.</ErrorBox>;
  if (error && sweep === null) return <ErrorBox title="The sweep could not be loaded.">{error}</ErrorBox>;
  if (sweep === null) return <p className="muted">Loading sweep…</p>;

  const sortValue = (m: SweepMember): number | string => {
    if (sort.key.startsWith("final:")) return metricOf(m, "final", sort.key.slice(6)) ?? -Infinity;
    if (sort.key.startsWith("best:")) return metricOf(m, "best", sort.key.slice(5)) ?? -Infinity;
    if (sort.key === "status") return m.status;
    if (sort.key) { const v = paramOf(m, sort.key); return typeof v === "number" ? v : valueText(v); }
    return 0;
  };
  const rows = sort.key ? [...sweep.members].sort((a, b) => {
    const x = sortValue(a); const y = sortValue(b);
    const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return sort.desc ? -c : c;
  }) : sweep.members;
  const header = (key: string, label: string, num = false) => (
    <th key={key} className={num ? "num" : undefined} aria-sort={sort.key === key ? (sort.desc ? "descending" : "ascending") : undefined}>
      <button type="button" className="linklike" data-sort={key}
        onClick={() => setSort((s) => ({ key, desc: s.key === key ? !s.desc : higherIsBetter(key) }))}>
        {label}{sort.key === key ? (sort.desc ? " ▾" : " ▴") : ""}
      </button>
    </th>
  );
  const tableMetrics = [...new Set([shownMetric, ...metrics.slice(0, 2)])];
  const groups = groupBySetting(sweep.members);

  return (
    <>
      <div className="page-head">
        <div>
          <h1 data-testid="sweep-name">{sweep.name}</h1>
          <p className="muted small">
            <span className="mono">{sweep.sweep_id}</span> · {sweep.kind} over {sweep.params.join(", ") || "seeds"} · seeds {sweep.seeds.join(", ")} ·{" "}
            {sweep.members.length} runs ({Object.entries(sweep.counts).map(([k, n]) => `${n} ${k}`).join(", ")}) · created {fullTime(sweep.created_at)}
            {stillLive(sweep) ? " · updating live" : ""}
          </p>
        </div>
      </div>
      {error ? <ErrorBox title="Lost contact with the server; showing the last state.">{error}</ErrorBox> : null}
      <div className="filters">
        <label>metric{" "}
          <select value={shownMetric} onChange={(e) => setMetric(e.target.value)} data-testid="sweep-metric" style={{ width: "auto" }}>
            {metrics.map((m) => <option key={m} value={m}>{m}</option>)}
          </select>
        </label>
        <label>colour by{" "}
          <select value={shownColour} onChange={(e) => setColourBy(e.target.value)} data-testid="sweep-colour" style={{ width: "auto" }}>
            {params.map((p) => <option key={p} value={p}>{p}</option>)}
          </select>
        </label>
      </div>
      <div className="panel table-wrap">
        <table data-testid="sweep-members">
          <thead>
            <tr>
              <th>run</th>{header("status", "status")}
              {sweep.params.map((p) => header(p, shortName(p)))}
              {header("seed", "seed", true)}
              <th className="num">epochs</th>
              {tableMetrics.flatMap((k) => [header(`final:${k}`, `final ${k}`, true), header(`best:${k}`, `best ${k}`, true)])}
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map((m) => (
              <tr key={m.run_id} data-run-id={m.run_id}>
                <td><Link href={`/runs/${encodeURIComponent(m.run_id)}/`} className="mono" data-testid="member-run-link">{m.run_id}</Link></td>
                <td><StatusBadge status={m.status} /></td>
                {sweep.params.map((p) => <td key={p} className="mono small">{valueText(paramOf(m, p))}</td>)}
                <td className="num">{m.seed}</td>
                <td className="num">{m.epochs_completed}/{m.epochs ?? "?"}</td>
                {tableMetrics.flatMap((k) => [<td key={`f${k}`} className="num">{fmt(metricOf(m, "final", k))}</td>,
                  <td key={`b${k}`} className="num">{fmt(metricOf(m, "best", k))}</td>])}
                <td><Link href={`/runs/${encodeURIComponent(m.run_id)}/latent/`} data-testid="member-latent-link">latent</Link></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="charts" style={{ marginBottom: "1rem" }}>
        <SweepCurves members={sweep.members} metric={shownMetric} colourBy={shownColour} />
        <ParamVsMetric members={sweep.members} metric={shownMetric} param={shownColour} which="final" params={sweep.params} />
      </div>
      <SweepMaps members={sweep.members} params={sweep.params} />
      <div className="panel table-wrap">
        <h3>Mean ± sd over seeds ({shownMetric})</h3>
        <table data-testid="sweep-groups">
          <thead><tr>{sweep.params.map((p) => <th key={p}>{shortName(p)}</th>)}<th className="num">runs</th><th className="num">final</th><th className="num">best</th></tr></thead>
          <tbody>
            {groups.map((g) => {
              const f = meanStd(g.members.map((m) => metricOf(m, "final", shownMetric)).filter((v): v is number => v !== undefined));
              const b = meanStd(g.members.map((m) => metricOf(m, "best", shownMetric)).filter((v): v is number => v !== undefined));
              return (
                <tr key={g.key}>
                  {sweep.params.map((p) => <td key={p} className="mono small">{valueText(g.params[p])}</td>)}
                  <td className="num">{f.n}/{g.members.length}</td>
                  <td className="num">{f.n ? `${fmt(f.mean)} ± ${fmt(f.std, 2)}` : "–"}</td>
                  <td className="num">{b.n ? `${fmt(b.mean)} ± ${fmt(b.std, 2)}` : "–"}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </>
  );
}
