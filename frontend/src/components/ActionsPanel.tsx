"use client";
// "Actions": one generated form per computation a person can ask for (GET /api/components: the
// `computations` with a request JSON schema), built-in and third-party alike, shown before it has ever
// run. Submitting calls POST /api/runs/{id}/compute/{name}; the answer (its files, notes and payload) or
// the server's refusal (its 4xx message, with per-field errors) is shown inline.
import { useEffect, useMemo, useState } from "react";
import { api, ApiError } from "@/lib/api";
import type { ComponentRow, OnDemandResult } from "@/lib/api";
import { buildBody, errorsByField, fieldsOf, initialValues } from "@/lib/schemaForm";
import type { Values } from "@/lib/schemaForm";
import { FieldInput } from "./FieldInput";

let actionsOnce: Promise<ComponentRow[]> | null = null;

/** The installed computations a person can ask for (fetched once a page). */
function useActions(): { actions: ComponentRow[] | null; error: string | null } {
  const [state, setState] = useState<{ actions: ComponentRow[] | null; error: string | null }>({ actions: null, error: null });
  useEffect(() => {
    actionsOnce ??= api.components().then((c) => (c.computations ?? []).filter((row) => row.request_schema));
    actionsOnce.then(
      (actions) => setState({ actions, error: null }),
      (e: unknown) => { actionsOnce = null; setState({ actions: null, error: e instanceof ApiError ? e.detail : String(e) }); },
    );
  }, []);
  return state;
}

export function ActionsPanel({ runId }: { runId: string }) {
  const { actions, error } = useActions();
  if (error) return <section className="panel" data-testid="actions"><h2>Actions</h2><p className="err">{error}</p></section>;
  if (!actions?.length) return null;
  return (
    <section className="panel" data-testid="actions">
      <h2>Actions</h2>
      <p className="muted small">Computations the installed plugins offer for this run, each from a checkpoint. Results are saved
        with the run; asking again with the same values reads them from disk.</p>
      {actions.map((a) => <ActionForm key={a.name} runId={runId} action={a} />)}
    </section>
  );
}

function ActionForm({ runId, action }: { runId: string; action: ComponentRow }) {
  // fields are keyed under the action's name so that two forms' inputs never share an id
  const prefix = action.name;
  const fields = useMemo(() => (action.request_schema ? fieldsOf(action.request_schema, prefix) : []), [action.request_schema, prefix]);
  const defaults = useMemo(() => initialValues(fields), [fields]);
  const [values, setValues] = useState<Values>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [result, setResult] = useState<OnDemandResult | null>(null);
  const [busy, setBusy] = useState(false);
  const value = (key: string) => (key in values ? values[key] : defaults[key]);

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setErrors({});
    setProblem(null);
    const nested = buildBody(fields, { ...defaults, ...values });
    const body = (nested[prefix] as Record<string, unknown> | undefined) ?? {};
    try {
      setResult(await api.action(runId, action.name, body));
    } catch (e) {
      setResult(null);
      if (e instanceof ApiError) {
        const local = errorsByField(fields.map((f) => f.key.slice(prefix.length + 1)), e.detail, e.fieldErrors);
        setErrors(Object.fromEntries(Object.entries(local).map(([k, v]) => [`${prefix}.${k}`, v])));
        setProblem(e.detail);
      } else {
        setProblem(String(e));
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <details className="action" data-testid={`action-${action.name}`}>
      <summary><span className="mono">{action.name}</span> <span className="muted small">({action.provider})</span>
        {action.description ? <span className="muted small"> — {action.description}</span> : null}</summary>
      <form onSubmit={submit} noValidate data-testid={`action-form-${action.name}`}>
        <div className="fields">
          {fields.map((f) => (
            <FieldInput key={f.key} field={{ ...f, label: f.key.slice(prefix.length + 1).replace(/_/g, " ") }} value={value(f.key)}
              error={errors[f.key]} onChange={(v) => { setValues((prev) => ({ ...prev, [f.key]: v })); }} />
          ))}
        </div>
        <div className="form-actions">
          <button type="submit" className="btn" disabled={busy} data-testid={`action-run-${action.name}`}>{busy ? "Computing…" : "Compute"}</button>
        </div>
      </form>
      {problem ? <div className="callout warn small" role="alert" data-testid={`action-error-${action.name}`}><strong>Refused.</strong> <div>{problem}</div></div> : null}
      {result ? <ActionResult runId={runId} name={action.name} result={result} /> : null}
    </details>
  );
}

function ActionResult({ runId, name, result }: { runId: string; name: string; result: OnDemandResult }) {
  const pngs = result.files.filter((f) => f.endsWith(".png"));
  const payload = JSON.stringify(result.payload, null, 1);
  return (
    <div className="action-result" data-testid={`action-result-${name}`} data-created={String(result.created)}>
      <div className="small">{result.created ? "computed" : "read from disk"} · {result.files.length} file{result.files.length === 1 ? "" : "s"}
        {result.folder ? <> in <span className="mono">{result.folder}/</span></> : null}</div>
      {result.notes?.length ? <div className="callout small">{result.notes.map((n) => <div key={n}>{n}</div>)}</div> : null}
      {/* eslint-disable-next-line @next/next/no-img-element -- a run file served by the API */}
      {pngs.slice(0, 4).map((f) => <img key={f} src={api.artifactUrl(runId, f)} alt={f} style={{ width: 192, maxWidth: "100%", imageRendering: "pixelated", marginRight: 8 }} />)}
      <ul className="small mono">{result.files.slice(0, 12).map((f) => <li key={f}><a href={api.artifactUrl(runId, f)}>{f}</a></li>)}</ul>
      <pre className="small mono" style={{ maxHeight: 200, overflow: "auto" }}>{payload.length > 4000 ? `${payload.slice(0, 4000)}…` : payload}</pre>
    </div>
  );
}
