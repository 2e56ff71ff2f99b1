"use client";
import { useEffect, useState } from "react";
import { api, ApiError } from "@/lib/api";
import type { PluginRow } from "@/lib/api";
import { Empty, ErrorBox } from "./ui";
import { hasRuntimeFailures, PluginHealth, RESTART_HINT } from "./PluginHealth";

export function PluginsList() {
  const [plugins, setPlugins] = useState<PluginRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.plugins().then(setPlugins, (e: unknown) => setError(e instanceof ApiError ? e.detail : String(e)));
  }, []);
  if (error) return <ErrorBox title="The plugin list could not be loaded.">{error}</ErrorBox>;
  if (!plugins) return <p className="muted">Loading plugins…</p>;
  if (!plugins.length) return <div className="panel"><Empty title="No plugins are installed.">Reinstall latentdeck (<code>pip install --force-reinstall latentdeck</code>, or ./lab in a source checkout) to get the built-in ones, then restart the server.</Empty></div>;
  const failed = plugins.filter((p) => p.status !== "ok");
  const unhealthy = plugins.filter((p) => p.status === "ok" && hasRuntimeFailures(p));
  const sorted = [...failed, ...unhealthy, ...plugins.filter((p) => p.status === "ok" && !hasRuntimeFailures(p))];
  return (
    <>
      <p className="muted small" data-testid="plugin-counts">
        {plugins.length} plugins: {plugins.filter((p) => p.builtin).length} built-in, {plugins.filter((p) => !p.builtin).length} third-party
        {failed.length ? `, ${failed.length} failed to load` : ""}
        {unhealthy.length ? `, ${unhealthy.length} failed at run time` : ""}.
      </p>
      {sorted.map((p) => (
        <section key={p.name} className="panel plugin-card" data-testid="plugin" data-plugin={p.name}>
          <div>
            <h2 className="mono">{p.name}</h2>
            <div className="tags" style={{ marginTop: "0.35rem" }}>
              <span className="tag">{p.version ? `v${p.version}` : "no version"}</span>
              <span className="tag">{p.builtin ? "built-in" : "third-party"}</span>
            </div>
          </div>
          <div><span className={`badge ${p.status === "ok" ? "status-completed" : "status-failed"}`}>{p.status === "ok" ? "loaded" : "failed"}</span></div>
          <PluginHealth plugin={p} />
          {p.status !== "ok" ? (
            <div style={{ gridColumn: "1 / -1" }}>
              <ErrorBox title="This plugin failed to load; its components are unavailable.">
                <pre className="error-text">{p.error}</pre>
                Fix or uninstall the package, {RESTART_HINT}.
              </ErrorBox>
            </div>
          ) : null}
          <dl className="kv" style={{ gridColumn: "1 / -1" }}>
            <dt>hooks</dt>
            <dd>{p.hooks.length ? <span className="tags">{p.hooks.map((h) => <code key={h} className="tag">{h}</code>)}</span> : <span className="muted">none</span>}</dd>
            <dt>provides</dt>
            <dd>
              {Object.keys(p.provides).length ? Object.entries(p.provides).map(([kind, names]) => (
                <div key={kind}><span className="muted">{kind.replace(/_/g, " ")}:</span> {names.join(", ")}</div>
              )) : <span className="muted">no components</span>}
            </dd>
          </dl>
        </section>
      ))}
    </>
  );
}
