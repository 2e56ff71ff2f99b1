import Link from "next/link";
import type { PluginRow } from "@/lib/api";
import { ErrorBox, timeAgo } from "./ui";

/** What a person runs to load a fixed or removed plugin: the server reads plugins once, at start. */
export const RESTART_HINT = "then restart the server: stop it (Ctrl-C) and run `latentdeck serve` again (in a source checkout: ./lab)";

export function hasRuntimeFailures(p: PluginRow): boolean {
  return p.health.failures > 0 || p.health.over_budget > 0;
}

/** A plugin's runtime failures (it raised, or was stopped over its time budget) with the last error. */
export function PluginHealth({ plugin }: { plugin: PluginRow }) {
  const { failures, over_budget: overBudget, components, last_error: last } = plugin.health;
  if (!hasRuntimeFailures(plugin)) return null;
  const counts = [failures ? `${failures} failure${failures === 1 ? "" : "s"}` : "",
    overBudget ? `${overBudget} over its time budget` : ""].filter(Boolean).join(", ");
  return (
    <div style={{ gridColumn: "1 / -1" }} data-testid="plugin-health">
      <ErrorBox title={`Failed at run time: ${counts}.`}>
        <span className="muted small">
          {Object.entries(components).map(([name, c]) => `${name}: ${c.failures + c.over_budget}`).join(", ")}
        </span>
        {last ? (
          <>
            <p className="small">
              Last: <code>{last.component}</code>
              {last.run_id ? <> in run <Link href={`/runs/${encodeURIComponent(last.run_id)}/`} className="mono">{last.run_id}</Link></> : null}
              {last.epoch != null ? `, epoch ${last.epoch}` : ""}, {timeAgo(last.at)}{last.reason === "timeout" ? " (over its time budget)" : ""}
            </p>
            <pre className="error-text">{last.message}</pre>
          </>
        ) : null}
        <p className="small">Fix the plugin, {RESTART_HINT}; <code>latentdeck plugins --clear-failures</code> then forgets these counts.</p>
      </ErrorBox>
    </div>
  );
}
