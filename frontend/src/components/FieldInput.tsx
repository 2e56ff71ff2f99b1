"use client";
import type { Field } from "@/lib/schemaForm";

function hint(field: Field): string {
  const s = field.schema;
  const parts: string[] = [];
  if (field.kind === "bool") parts.push(`default ${field.initial ? "on" : "off"}`);
  else if (field.initial !== "") parts.push(`default ${field.initial}`);
  else if (field.nullable) parts.push("blank = default");
  const lo = s.minimum ?? s.exclusiveMinimum;
  const hi = s.maximum ?? s.exclusiveMaximum;
  if (lo !== undefined && hi !== undefined) parts.push(`${lo}–${hi}`);
  else if (lo !== undefined) parts.push(`${s.exclusiveMinimum !== undefined ? ">" : "≥"} ${lo}`);
  else if (hi !== undefined) parts.push(`${s.exclusiveMaximum !== undefined ? "<" : "≤"} ${hi}`);
  if (field.kind === "list") parts.push("comma-separated");
  if (field.kind === "json") parts.push("JSON");
  return parts.join(" · ");
}

export function FieldInput({ field, value, error, extraHint, onChange }: {
  field: Field; value: string | boolean; error?: string; extraHint?: string; onChange: (v: string | boolean) => void;
}) {
  const id = `f-${field.key.replace(/\./g, "-")}`;
  let input;
  if (field.kind === "bool") {
    input = (
      <label className="checkbox" htmlFor={id}>
        <input id={id} name={field.key} type="checkbox" checked={Boolean(value)} onChange={(e) => onChange(e.target.checked)} />
        {field.label}
      </label>
    );
  } else if (field.kind === "enum") {
    input = (
      <select id={id} name={field.key} value={String(value)} onChange={(e) => onChange(e.target.value)}>
        {field.options?.map((o) => <option key={o} value={o}>{o}</option>)}
      </select>
    );
  } else if (field.kind === "json") {
    input = <textarea id={id} name={field.key} value={String(value)} rows={1} spellCheck={false} onChange={(e) => onChange(e.target.value)} placeholder="{}" />;
  } else {
    const numeric = field.kind === "int" || field.kind === "number";
    input = (
      <input id={id} name={field.key} type="text" inputMode={numeric ? "decimal" : undefined} value={String(value)}
        placeholder={field.nullable ? "default" : undefined} onChange={(e) => onChange(e.target.value)}
        aria-invalid={error ? true : undefined} aria-describedby={`${id}-hint`} />
    );
  }
  return (
    <div className={`field${error ? " invalid" : ""}`} data-field={field.key}>
      {field.kind !== "bool" && <label htmlFor={id}>{field.label}</label>}
      {input}
      <div className="hint" id={`${id}-hint`}>
        {field.description ? <>{field.description}. </> : null}
        <span>{hint(field)}</span>
        {extraHint ? <div>{extraHint}</div> : null}
      </div>
      {error ? <div className="err" role="alert" data-testid={`error-${field.key}`}>{error}</div> : null}
    </div>
  );
}
