// Turns a pydantic JSON schema into form fields, and form values back into a request body.
// Generic on purpose: the launch form shows whatever the run config and the chosen model accept.
import type { JsonSchema } from "./api";

export type FieldKind = "int" | "number" | "bool" | "enum" | "string" | "list" | "json";

export interface Field {
  key: string; // dotted path in the request body, e.g. "optimizer.lr", "model_options.latent_dim"
  label: string;
  description?: string;
  kind: FieldKind;
  nullable: boolean;
  schema: JsonSchema;
  itemKind?: "int" | "number" | "string";
  options?: string[];
  initial: string | boolean;
}

export type Values = Record<string, string | boolean>;

function resolve(schema: JsonSchema, root: JsonSchema): JsonSchema {
  if (schema.$ref) {
    const name = schema.$ref.split("/").pop() ?? "";
    return { ...(root.$defs?.[name] ?? {}), description: schema.description ?? root.$defs?.[name]?.description };
  }
  return schema;
}

function unwrapNull(schema: JsonSchema): { schema: JsonSchema; nullable: boolean } {
  if (schema.anyOf) {
    const others = schema.anyOf.filter((s) => s.type !== "null");
    const nullable = others.length < schema.anyOf.length;
    if (others.length === 1) {
      const inner = others[0];
      return { schema: { ...inner, title: schema.title, description: schema.description, default: schema.default }, nullable };
    }
  }
  return { schema, nullable: false };
}

function primitiveKind(s: JsonSchema | undefined): "int" | "number" | "string" {
  return s?.type === "integer" ? "int" : s?.type === "number" ? "number" : "string";
}

function show(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value)) return value.join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** Fields of an object schema (nested objects with properties are flattened with dotted keys). */
export function fieldsOf(schema: JsonSchema, prefix = "", root: JsonSchema = schema, skip: string[] = []): Field[] {
  const out: Field[] = [];
  for (const [name, raw] of Object.entries(schema.properties ?? {})) {
    if (!prefix && skip.includes(name)) continue;
    const key = prefix ? `${prefix}.${name}` : name;
    const { schema: s0, nullable } = unwrapNull(resolve(raw, root));
    const s = resolve(s0, root);
    const base = { key, label: name.replace(/_/g, " "), description: s.description ?? raw.description, nullable, schema: s };
    if (s.type === "object" && s.properties) {
      out.push(...fieldsOf(s, key, root));
    } else if (s.enum) {
      out.push({ ...base, kind: "enum", options: s.enum.map(String), initial: show(s.default ?? s.enum[0]) });
    } else if (s.type === "boolean") {
      out.push({ ...base, kind: "bool", initial: Boolean(s.default) });
    } else if (s.type === "integer" || s.type === "number") {
      out.push({ ...base, kind: s.type === "integer" ? "int" : "number", initial: show(s.default) });
    } else if (s.type === "array") {
      out.push({ ...base, kind: "list", itemKind: primitiveKind(s.prefixItems?.[0] ?? s.items), initial: show(s.default) });
    } else if (s.type === "object") {
      out.push({ ...base, kind: "json", initial: s.default === undefined ? "" : JSON.stringify(s.default) });
    } else {
      out.push({ ...base, kind: "string", initial: show(s.default) });
    }
  }
  return out;
}

export function initialValues(fields: Field[]): Values {
  return Object.fromEntries(fields.map((f) => [f.key, f.initial]));
}

function parseScalar(text: string, kind: "int" | "number" | "string"): unknown {
  const t = text.trim();
  if (kind === "string") return t;
  const n = Number(t);
  if (t === "" || !Number.isFinite(n)) return t; // the API's 422 explains what it wanted
  return n;
}

/** The value to send for a field, or undefined to leave it to the server's default. */
export function toJson(field: Field, value: string | boolean): unknown {
  if (field.kind === "bool") return Boolean(value);
  const text = String(value);
  if (text.trim() === "") return field.nullable ? null : undefined;
  switch (field.kind) {
    case "int":
    case "number":
      return parseScalar(text, field.kind);
    case "list":
      return text.split(",").map((p) => p.trim()).filter((p) => p !== "").map((p) => parseScalar(p, field.itemKind ?? "string"));
    case "json":
      try {
        return JSON.parse(text);
      } catch {
        return text;
      }
    default:
      return text;
  }
}

/** Request body from the changed fields (unchanged ones keep the server's defaults). */
export function buildBody(fields: Field[], values: Values, always: Record<string, unknown> = {}): Record<string, unknown> {
  const body: Record<string, unknown> = { ...always };
  for (const f of fields) {
    const v = values[f.key];
    if (v === undefined || v === f.initial) continue;
    const json = toJson(f, v);
    if (json === undefined) continue;
    const path = f.key.split(".");
    let target = body;
    for (const part of path.slice(0, -1)) {
      target[part] = (target[part] as Record<string, unknown>) ?? {};
      target = target[part] as Record<string, unknown>;
    }
    target[path[path.length - 1]] = json;
  }
  return body;
}

/** Which field an API error belongs to: from a 422's `loc`, else a `field.path:` named in its text. */
export function errorsByField(keys: string[], detail: string, fieldErrors: { loc: (string | number)[]; msg: string }[]) {
  const byField: Record<string, string> = {};
  for (const e of fieldErrors) {
    const loc = e.loc[0] === "body" ? e.loc.slice(1) : e.loc;
    const key = loc.join(".");
    const match = keys.find((k) => k === key) ?? keys.find((k) => key.startsWith(`${k}.`));
    if (match) byField[match] = byField[match] ? `${byField[match]}; ${e.msg}` : e.msg;
  }
  if (!fieldErrors.length) {
    const sorted = [...keys].sort((a, b) => b.length - a.length);
    const named = sorted.find((k) => detail.includes(`${k}:`));
    if (named) {
      const at = detail.indexOf(`${named}:`);
      byField[named] = detail.slice(at + named.length + 1).trim();
    } else if (/^(unknown |)dataset\b/i.test(detail) || /dataset '[^']*' is not/.test(detail)) {
      byField.dataset = detail;
    } else if (/^(unknown |)model\b/i.test(detail)) {
      byField.model = detail;
    }
  }
  return byField;
}

/** Form values for the fields a config object sets (a preset's `config`); other fields are left out. */
export function valuesFromConfig(fields: Field[], config: Record<string, unknown>): Values {
  const out: Values = {};
  for (const f of fields) {
    let node: unknown = config;
    for (const part of f.key.split(".")) {
      node = node && typeof node === "object" && !Array.isArray(node) ? (node as Record<string, unknown>)[part] : undefined;
    }
    if (node === undefined) continue;
    out[f.key] = f.kind === "bool" ? Boolean(node) : show(node);
  }
  return out;
}
