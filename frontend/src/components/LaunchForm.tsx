"use client";
import { useRouter } from "next/navigation";
import { useEffect, useMemo, useState } from "react";
import { api, ApiError } from "@/lib/api";
import type { ComponentRow, ComponentsByKind, JsonSchema, Preset } from "@/lib/api";
import { buildBody, errorsByField, fieldsOf, initialValues, valuesFromConfig } from "@/lib/schemaForm";
import type { Values } from "@/lib/schemaForm";
import { FieldInput } from "./FieldInput";
import { PresetPicker } from "./PresetPicker";
import { parseGrid, parseSeeds } from "@/lib/sweeps";
import { ErrorBox } from "./ui";

const BASIC = ["name", "epochs", "batch_size", "optimizer.lr", "seed", "limit"];
const HANDLED = ["model", "model_options", "dataset", "preset", "sweep_id", "projection_options", "artifact_options"];
/** Per-component options the form builds from each installed component's schema, like the model's. */
const COMPONENT_OPTIONS = [["projections", "projection_options"], ["artifacts", "artifact_options"]] as const;

/** The installed components a launch field names: projections, or the computations the epoch loop runs. */
function rowsFor(components: ComponentsByKind, kind: string) {
  return kind === "artifacts" ? (components.computations ?? []).filter((row) => row.runs !== "on_demand") : components[kind] ?? [];
}

/** Fields for every installed projection's and per-epoch computation's options (keys
 * ``projection_options.<name>.<field>``, ``artifact_options.<name>.<field>``), in kind then name order. */
function componentOptionFields(components: ComponentsByKind) {
  return COMPONENT_OPTIONS.flatMap(([kind, key]) => rowsFor(components, kind)
    .filter((row) => Object.keys(row.options_schema?.properties ?? {}).length)
    .map((row) => ({ kind, name: row.name, fields: fieldsOf(row.options_schema, `${key}.${row.name}`) })));
}
const OFFLINE_FALLBACK = "mnist-5k";

type Loaded = { components: ComponentsByKind; schema: JsonSchema; presets: Preset[] };

export function LaunchForm() {
  const router = useRouter();
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [chosenModel, setModel] = useState<string | null>(null); // null: the server's default model
  const [dataset, setDataset] = useState("default");
  const [values, setValues] = useState<Values>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [submitting, setSubmitting] = useState(false);
  const [preset, setPreset] = useState<string | null>(null);
  const [sweepOpen, setSweepOpen] = useState(false);
  const [sweepGrid, setSweepGrid] = useState("");
  const [sweepSeeds, setSweepSeeds] = useState("0");

  useEffect(() => {
    Promise.all([api.components(), api.configSchema(), api.presets().catch(() => [] as Preset[])])
      .then(([components, schema, presets]) => setLoaded({ components, schema, presets }))
      .catch((e: unknown) => setLoadError(e instanceof ApiError ? e.detail : String(e)));
  }, []);

  const models = loaded?.components.models ?? [];
  // the default model is the installed one the plugins rank first (the schema's `model.default`)
  const defaultModel = typeof loaded?.schema.properties?.model?.default === "string" ? loaded.schema.properties.model.default : models[0]?.name ?? "";
  const model = chosenModel ?? defaultModel;
  const datasets = loaded?.components.datasets ?? [];
  const modelRow = models.find((m) => m.name === model);
  const configFields = useMemo(() => (loaded ? fieldsOf(loaded.schema, "", loaded.schema, HANDLED) : []), [loaded]);
  const modelFields = useMemo(() => (modelRow ? fieldsOf(modelRow.options_schema, "model_options") : []), [modelRow]);
  const optionGroups = useMemo(() => (loaded ? componentOptionFields(loaded.components) : []), [loaded]);
  const optionFields = useMemo(() => optionGroups.flatMap((g) => g.fields), [optionGroups]);
  const allFields = useMemo(() => [...configFields, ...modelFields, ...optionFields], [configFields, modelFields, optionFields]);
  const defaults = useMemo(() => initialValues(allFields), [allFields]);
  const value = (key: string) => (key in values ? values[key] : defaults[key]);

  const mnist = datasets.find((d) => d.name === "mnist");
  const defaultResolves = mnist?.availability?.ok ? "mnist" : OFFLINE_FALLBACK;
  const chosen: ComponentRow | undefined = datasets.find((d) => d.name === (dataset === "default" ? defaultResolves : dataset));

  if (loadError) {
    return <ErrorBox title="The launch form could not load the installed plugins.">{loadError} Check that the latentdeck server is running (./lab), then reload.</ErrorBox>;
  }
  if (!loaded) return <p className="muted">Loading models and datasets…</p>;
  if (!models.length) {
    return <ErrorBox title="No model plugin is installed.">Install one (see the Plugins page for load failures), then reload.</ErrorBox>;
  }

  const kindHint = (key: string) => {
    const rows = rowsFor(loaded.components, key);
    return rows?.length ? `installed: ${rows.map((r) => r.name).join(", ")}` : undefined;
  };

  const set = (key: string, v: string | boolean) => {
    setValues((prev) => ({ ...prev, [key]: v }));
    setErrors((prev) => {
      if (!(key in prev)) return prev;
      const next = { ...prev };
      delete next[key];
      return next;
    });
  };

  const choosePreset = (p: Preset | null) => {
    setErrors({});
    setFormError(null);
    setPreset(p ? p.name : null);
    if (!p) {
      setValues({});
      return;
    }
    const config = p.config as Record<string, unknown>;
    const nextModel = typeof config.model === "string" ? config.model : defaultModel;
    const row = models.find((m) => m.name === nextModel);
    const fields = [...configFields, ...(row ? fieldsOf(row.options_schema, "model_options") : []), ...optionFields];
    setModel(nextModel);
    if (typeof config.dataset === "string") setDataset(config.dataset);
    setValues(valuesFromConfig(fields, config));
  };

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    setSubmitting(true);
    setErrors({});
    setFormError(null);
    const merged = { ...defaults, ...values };
    const body = buildBody(allFields, merged, preset ? { preset, model, dataset } : { model, dataset });
    const sweep = parseGrid(sweepGrid);
    try {
      if (sweep.error) throw new ApiError(422, `sweep: ${sweep.error}`);
      if (Object.keys(sweep.grid).length) {
        const { name, ...config } = body as Record<string, unknown>;
        const created = await api.createSweep({ name: (name as string | undefined) || null, config, grid: sweep.grid,
          seeds: parseSeeds(sweepSeeds) as number[] });
        router.push(`/sweeps/${encodeURIComponent(created.sweep_id)}/`);
        return;
      }
      const created = await api.createRun(body);
      router.push(`/runs/${encodeURIComponent(created.summary.run_id)}/`);
    } catch (e) {
      if (e instanceof ApiError) {
        const byField = errorsByField(["model", "dataset", ...allFields.map((f) => f.key)], e.detail, e.fieldErrors);
        setErrors(byField);
        setFormError(Object.keys(byField).length ? `The run was not started: fix the field${Object.keys(byField).length > 1 ? "s" : ""} marked below. (${e.detail})` : e.detail);
      } else {
        setFormError(String(e));
      }
      setSubmitting(false);
    }
  };

  const renderFields = (keys: (k: string) => boolean, list = allFields) =>
    list.filter((f) => keys(f.key)).map((f) => (
      <FieldInput key={f.key} field={f} value={value(f.key)} error={errors[f.key]} onChange={(v) => set(f.key, v)}
        extraHint={f.key === "projections" || f.key === "artifacts" ? kindHint(f.key) : undefined} />
    ));

  return (
    <form onSubmit={submit} noValidate data-testid="launch-form">
      {formError ? <ErrorBox title="The server refused this configuration.">{formError}</ErrorBox> : null}
      <PresetPicker presets={loaded.presets} chosen={preset} onChoose={choosePreset} />
      <section className="panel form-section">
        <h2>Model and data</h2>
        <div className="fields">
          <div className={`field${errors.model ? " invalid" : ""}`}>
            <label htmlFor="f-model">model</label>
            <select id="f-model" name="model" value={model} onChange={(e) => { setModel(e.target.value); setPreset(null); setErrors({}); }}>
              {models.map((m) => <option key={m.name} value={m.name}>{m.name}</option>)}
            </select>
            <div className="choice-desc">{modelRow?.description}</div>
            {errors.model ? <div className="err" role="alert">{errors.model}</div> : null}
          </div>
          <div className={`field${errors.dataset ? " invalid" : ""}`}>
            <label htmlFor="f-dataset">dataset</label>
            <select id="f-dataset" name="dataset" value={dataset} onChange={(e) => { setDataset(e.target.value); setErrors({}); }}>
              <option value="default">default → {defaultResolves}{defaultResolves === OFFLINE_FALLBACK ? " (works offline)" : ""}</option>
              {datasets.map((d) => (
                <option key={d.name} value={d.name}>{d.name}{d.availability ? (d.availability.ok ? " — available" : " — unavailable") : ""}</option>
              ))}
            </select>
            <div className="choice-desc" data-testid="dataset-note">
              {dataset === "default"
                ? `The default is ${defaultResolves}${defaultResolves === OFFLINE_FALLBACK ? ": 5,000 real MNIST digits bundled with the lab, so it works offline" : " (its files are present)"}.`
                : chosen?.description}
            </div>
            {chosen?.availability && !chosen.availability.ok ? (
              <div className="callout warn small" data-testid="dataset-unavailable"><strong>Not available here.</strong> <div>{chosen.availability.reason}</div></div>
            ) : chosen?.availability?.ok && dataset !== "default" ? (
              <div className="muted small" data-testid="dataset-available">Available here: its files are present.</div>
            ) : null}
            {errors.dataset ? <div className="err" role="alert" data-testid="error-dataset">{errors.dataset}</div> : null}
          </div>
        </div>
      </section>
      <section className="panel form-section">
        <h2>Training</h2>
        <div className="fields">{renderFields((k) => BASIC.includes(k), configFields)}</div>
      </section>
      {modelFields.length ? (
        <section className="panel form-section">
          <h2>{model} options</h2>
          <div className="fields">{renderFields(() => true, modelFields)}</div>
        </section>
      ) : null}
      <section className="panel form-section">
        <details open={[...configFields, ...optionFields].some((f) => !BASIC.includes(f.key) && errors[f.key]) || undefined}>
          <summary>Advanced: optimizer, checkpoints, visualization, projections, artifacts</summary>
          <div className="fields">{renderFields((k) => !BASIC.includes(k), configFields)}</div>
          {optionGroups.map((g) => (
            <div key={`${g.kind}:${g.name}`} data-testid={`options-${g.kind}-${g.name}`}>
              <h3>{g.name} options <span className="muted small">({g.kind === "projections" ? "projection" : "artifact"})</span></h3>
              <div className="fields">{renderFields(() => true, g.fields)}</div>
            </div>
          ))}
        </details>
      </section>
      <section className="panel form-section">
        <label className="sweep-toggle">
          <input type="checkbox" checked={sweepOpen} onChange={(e) => { setSweepOpen(e.target.checked); if (!e.target.checked) setSweepGrid(""); }}
            data-testid="sweep-mode" />{" "}
          Sweep: start several runs over a grid of values and seeds
        </label>
        {sweepOpen ? (
          <div className="fields">
            <div className="field">
              <label htmlFor="f-sweep-grid">vary (one field=value1,value2 per line)</label>
              <textarea id="f-sweep-grid" rows={3} value={sweepGrid} onChange={(e) => setSweepGrid(e.target.value)}
                placeholder="model_options.latent_dim=2,8&#10;optimizer.lr=0.001,0.003" data-testid="sweep-grid" />
              <div className="choice-desc">Every combination is a run, once per seed; the fields above are the base. Leave empty for one run.</div>
            </div>
            <div className="field">
              <label htmlFor="f-sweep-seeds">seeds</label>
              <input id="f-sweep-seeds" value={sweepSeeds} onChange={(e) => setSweepSeeds(e.target.value)} data-testid="sweep-seeds" />
            </div>
          </div>
        ) : null}
      </section>
      <div className="form-actions">
        <button type="submit" className="btn primary" disabled={submitting} data-testid="launch">{submitting ? "Starting…" : sweepGrid.trim() ? "Start sweep" : "Start run"}</button>
        <span className="muted small">Runs train in a worker process; you can follow this one live and cancel it at any time.</span>
      </div>
    </form>
  );
}
