"use client";
// Every artifact type without a panel of its own, drawn with the generic view its spec declares
// (GET /api/runs/{id}/files, grouped per type and epoch by lib/runFiles, with each type's `view` hint). A newly installed plugin's
// artifacts appear here without a frontend change. The page only reads the persisted files.
import { useEffect, useMemo, useState } from "react";
import { api } from "@/lib/api";
import { artifactGroups, explorerTypes } from "@/lib/runFiles";
import type { ArtifactGroup as ArtifactIndexEntry } from "@/lib/runFiles";
import { loadJson } from "@/lib/latent/files";
import { gridCanvas } from "@/lib/overlays";
import type { GridDoc } from "@/lib/overlays";
import { LineChart } from "./LineChart";
import { useViewedComputations } from "@/viewkit/ViewSlot";

// Types whose files provide a role the latent explorer draws are shown there (lib/runFiles explorerTypes); a type
// a plugin's view declares (ViewSpec.computations) is shown by that view; every other type gets its generic view here.

export function GenericArtifacts({ runId, refresh }: { runId: string; refresh: number }) {
  const [all, setEntries] = useState<ArtifactIndexEntry[] | null>(null);
  const viewed = useViewedComputations();
  const entries = viewed ? all?.filter((e) => !viewed.has(e.name)) : null;
  useEffect(() => {
    let live = true;
    api.files(runId).then((listing) => { if (live) { const drawn = explorerTypes(listing); setEntries(artifactGroups(listing).filter((e) => !drawn.has(e.name))); } }, () => undefined);
    return () => { live = false; };
  }, [runId, refresh]);
  if (!entries?.length) return null;
  return (
    <section className="panel" data-testid="generic-artifacts">
      <h2>More artifacts</h2>
      <p className="muted small">Artifact types without a panel of their own, shown the way their plugin asks ({entries.length}).</p>
      {entries.map((e) => <GenericEntry key={`${e.kind}:${e.name}`} runId={runId} entry={e} />)}
    </section>
  );
}

function GenericEntry({ runId, entry }: { runId: string; entry: ArtifactIndexEntry }) {
  const epochs = entry.epochs.map((e) => e.epoch);
  const [picked, setPicked] = useState<number | null>(null); // null: the newest epoch
  const epoch = picked !== null && epochs.includes(picked) ? picked : epochs[epochs.length - 1] ?? null;
  const files = epoch !== null ? entry.epochs.find((e) => e.epoch === epoch)!.files : entry.other;
  return (
    <div className="generic-artifact" data-testid={`generic-${entry.name}`} data-view={entry.view}>
      <h3 className="mono">{entry.name} <span className="muted small">({entry.view}, {entry.provider ?? "?"}, {entry.folder}/)</span></h3>
      {entry.description ? <p className="muted small">{entry.description}</p> : null}
      <FileNotes runId={runId} name={files.find((f) => f.endsWith(".json")) ?? null} />
      {entry.view !== "metric_series" && epochs.length > 1 ? (
        <div className="scrubber">
          <input type="range" min={0} max={epochs.length - 1} value={epochs.indexOf(epoch!)} aria-label={`epoch of ${entry.name}`}
            onChange={(ev) => { const i = Number(ev.target.value); setPicked(i === epochs.length - 1 ? null : epochs[i]); }} />
          <span className="mono">epoch {epoch}{picked === null ? " (latest)" : ""}</span>
        </div>
      ) : epoch !== null ? <div className="mono small">epoch {epoch}</div> : null}
      <GenericView runId={runId} entry={entry} files={files} />
    </div>
  );
}

/** Sentences for people that an epoch's JSON carries (`phase_note`, `note`): shown above any view, so an
 * image of an untrained prior, say, is never shown without the file's word on it. */
function FileNotes({ runId, name }: { runId: string; name: string | null }) {
  const { doc } = useJson<Record<string, unknown>>(runId, name);
  const notes = doc && typeof doc === "object" ? ["phase_note", "note"].map((k) => doc[k]).filter((v): v is string => typeof v === "string" && v.length > 0) : [];
  return notes.length ? <div className="callout small" data-testid="generic-file-note">{notes.map((n) => <div key={n}>{n}</div>)}</div> : null;
}

function GenericView({ runId, entry, files }: { runId: string; entry: ArtifactIndexEntry; files: string[] }) {
  const pngs = files.filter((f) => f.endsWith(".png"));
  const json = files.find((f) => f.endsWith(".json")) ?? null;
  switch (entry.view) {
    case "image":
    case "image_grid":
      return pngs.length ? (
        <div className="generic-images">
          {pngs.slice(0, entry.view === "image" ? 1 : 12).map((f) => (
            // eslint-disable-next-line @next/next/no-img-element -- a run artifact served by the API
            <img key={f} src={api.artifactUrl(runId, f)} alt={f} style={{ imageRendering: "pixelated", maxWidth: "100%" }} />
          ))}
        </div>
      ) : <JsonView runId={runId} name={json} />;
    case "metric_series":
      return <MetricSeries runId={runId} entry={entry} />;
    case "table":
      return <TableView runId={runId} name={json} />;
    case "grid2d_overlay":
      return <GridView runId={runId} name={json} />;
    default:
      return <JsonView runId={runId} name={json} />;
  }
}

function useJson<T>(runId: string, name: string | null): { doc: T | null; error: string | null } {
  const [state, setState] = useState<{ name: string | null; doc: T | null; error: string | null }>({ name: null, doc: null, error: null });
  useEffect(() => {
    if (!name) return;
    let live = true;
    loadJson<T>(runId, name).then((doc) => { if (live) setState({ name, doc, error: null }); },
      (e: unknown) => { if (live) setState({ name, doc: null, error: String(e) }); });
    return () => { live = false; };
  }, [runId, name]);
  return state.name === name ? state : { doc: null, error: null };
}

function JsonView({ runId, name }: { runId: string; name: string | null }) {
  const { doc, error } = useJson<unknown>(runId, name);
  if (!name) return <p className="muted small">No JSON file for this epoch.</p>;
  if (error) return <p className="muted small">{error}</p>;
  // arrays read from an array file are shown by their first values, not as {"0": ..., "1": ...}
  const text = doc === null ? "loading…" : JSON.stringify(doc, (_, v) => (ArrayBuffer.isView(v) && !(v instanceof DataView)
    ? `${v.constructor.name}(${(v as unknown as ArrayLike<number>).length}) [${Array.from((v as unknown as ArrayLike<number>)).slice(0, 8).join(", ")}${(v as unknown as ArrayLike<number>).length > 8 ? ", …" : ""}]`
    : v), 1);
  return <pre className="generic-json mono small" data-testid="generic-json">{text.length > 20000 ? `${text.slice(0, 20000)}\n…` : text}</pre>;
}

const scalars = (doc: unknown): [string, number][] => (doc && typeof doc === "object" && !Array.isArray(doc)
  ? Object.entries(doc as Record<string, unknown>).filter((kv): kv is [string, number] => typeof kv[1] === "number" && kv[0] !== "epoch")
  : []);

function MetricSeries({ runId, entry }: { runId: string; entry: ArtifactIndexEntry }) {
  const names = useMemo(() => entry.epochs.map((e) => ({ epoch: e.epoch, name: e.files.find((f) => f.endsWith(".json")) ?? null })), [entry]);
  const [docs, setDocs] = useState<Record<number, unknown>>({});
  useEffect(() => {
    let live = true;
    for (const { epoch, name } of names) {
      if (name) loadJson<unknown>(runId, name).then((doc) => { if (live) setDocs((d) => ({ ...d, [epoch]: doc })); }, () => undefined);
    }
    return () => { live = false; };
  }, [runId, names]);
  const epochs = Object.keys(docs).map(Number).sort((a, b) => a - b);
  const all = [...new Set(epochs.flatMap((e) => scalars(docs[e]).map(([k]) => k)))];
  const valueOf = (e: number, k: string) => (docs[e] as Record<string, unknown>)[k];
  // a number that never changes (a count, a size) is said once instead of drawn as a flat chart
  const constant = epochs.length > 1 ? all.filter((k) => epochs.every((e) => valueOf(e, k) === valueOf(epochs[0], k))) : [];
  const keys = all.filter((k) => !constant.includes(k)).slice(0, 8);
  if (!keys.length && !constant.length) return <p className="muted small">{epochs.length ? "No numbers to chart in these files." : "loading…"}</p>;
  return (
    <div className="charts" data-testid="generic-series">
      {constant.length ? (
        <p className="muted small" data-testid="generic-series-constant" style={{ gridColumn: "1 / -1", margin: 0 }}>
          the same in every epoch: {constant.map((k) => `${k.replace(/_/g, " ")} ${String(valueOf(epochs[0], k))}`).join(" · ")}
        </p>
      ) : null}
      {keys.map((k) => (
        <LineChart key={k} title={k.replace(/_/g, " ")} maxEpoch={Math.max(1, ...epochs)} testId={`generic-series-${k}`}
          series={[{ label: k, points: epochs.map((e) => ({ x: e, y: (docs[e] as Record<string, number>)[k] })).filter((p) => typeof p.y === "number") }]} />
      ))}
    </div>
  );
}

function TableView({ runId, name }: { runId: string; name: string | null }) {
  const { doc } = useJson<unknown>(runId, name);
  if (!doc) return <JsonView runId={runId} name={name} />;
  const rows: Record<string, unknown>[] = Array.isArray(doc) ? doc.filter((r) => r && typeof r === "object") as Record<string, unknown>[]
    : Object.entries(doc as Record<string, unknown>).filter(([, v]) => v === null || typeof v !== "object").map(([field, value]) => ({ field, value }));
  const columns = [...new Set(rows.slice(0, 50).flatMap((r) => Object.keys(r)))].slice(0, 12);
  const cell = (v: unknown) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : v === null ? "–" : typeof v === "object" ? JSON.stringify(v).slice(0, 60) : String(v));
  return (
    <table className="generic-table small" data-testid="generic-table">
      <thead><tr>{columns.map((c) => <th key={c}>{c}</th>)}</tr></thead>
      <tbody>{rows.slice(0, 200).map((r, i) => <tr key={i}>{columns.map((c) => <td key={c} className="mono">{cell(r[c])}</td>)}</tr>)}</tbody>
    </table>
  );
}

function GridView({ runId, name }: { runId: string; name: string | null }) {
  const { doc } = useJson<GridDoc>(runId, name);
  const src = useMemo(() => (doc?.grid && (Array.isArray(doc.values) || ArrayBuffer.isView(doc.values)) ? gridCanvas(doc).toDataURL() : null), [doc]);
  if (!src) return <JsonView runId={runId} name={name} />;
  // eslint-disable-next-line @next/next/no-img-element -- drawn from the file's values in the browser
  return <img src={src} alt={name ?? "grid"} data-testid="generic-grid" style={{ width: 256, imageRendering: "pixelated" }} />;
}
