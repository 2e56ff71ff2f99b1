"use client";
// The launch form's first choice: named presets from the plugins (GET /api/presets), each with what it
// changes from the defaults and why. Picking one fills the form; every field stays editable.
import type { Preset } from "@/lib/api";

function show(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

export function PresetPicker({ presets, chosen, onChoose }: {
  presets: Preset[]; chosen: string | null; onChoose: (preset: Preset | null) => void;
}) {
  if (!presets.length) return null;
  const current = presets.find((p) => p.name === chosen) ?? null;
  return (
    <section className="panel form-section" data-testid="presets">
      <h2>Start from a preset</h2>
      <div className="preset-cards" role="radiogroup" aria-label="presets">
        {presets.map((p) => (
          <button key={p.name} type="button" role="radio" aria-checked={p.name === chosen} disabled={Boolean(p.error)}
            className={`preset-card${p.name === chosen ? " chosen" : ""}`} data-testid={`preset-${p.name}`}
            title={p.error ?? undefined} onClick={() => onChoose(p.name === chosen ? null : p)}>
            <strong>{p.title}</strong>
            <span className="small muted">{p.error ? `Unavailable here: ${p.error}` : p.description}</span>
          </button>
        ))}
        <button type="button" role="radio" aria-checked={chosen === null} className={`preset-card${chosen === null ? " chosen" : ""}`}
          data-testid="preset-none" onClick={() => onChoose(null)}>
          <strong>Custom</strong>
          <span className="small muted">Every field at its documented default; change what you like below.</span>
        </button>
      </div>
      {current ? (
        <div className="preset-changes" data-testid="preset-changes">
          <p className="small">
            <b>{current.title}</b> fills the form below with these values (the defaults stay as documented; any field you
            edit wins over the preset):
          </p>
          <table className="small">
            <thead><tr><th>field</th><th>value</th><th>default</th><th>why</th></tr></thead>
            <tbody>
              {current.changes.map((c) => (
                <tr key={c.field}>
                  <td className="mono">{c.field}</td>
                  <td className="mono">{show(c.value)}</td>
                  <td className="mono muted">{c.default === undefined || c.default === null ? "–" : show(c.default)}</td>
                  <td>{c.why}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
