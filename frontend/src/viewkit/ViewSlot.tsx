"use client";
// Where plugins' views are mounted: every view a loaded plugin declares for one mount (GET /api/components →
// views), in their order, each loaded at run time as an ES module with the page's React and view kit
// (window.__latentdeck, see installKit). A view whose module fails to load or throws while drawing shows an
// inline error in its own slot; the rest of the page goes on.
import * as React from "react";
import * as jsxRuntime from "react/jsx-runtime";
import { Component, useEffect, useState } from "react";
import type { ComponentType, ReactNode } from "react";
import { api } from "@/lib/api";
import { ErrorBox } from "@/components/ui";
import * as kit from "./kit";
import type { Mount, ViewProps, ViewRow } from "./contract";

declare global {
  interface Window { __latentdeck?: Record<string, unknown> }
}

/** Put the page's shared modules where the views' bundles look for them (scripts/build-views.mjs); a page may
 * add more (the explorer adds "@latentdeck/view-kit/explorer"). */
export function installKit(extra: Record<string, unknown> = {}): void {
  if (typeof window === "undefined") return;
  window.__latentdeck = { react: React, "react/jsx-runtime": jsxRuntime, "@latentdeck/view-kit": kit, ...window.__latentdeck, ...extra };
}

interface Listing {
  views: ViewRow[];
  /** computation name -> the model capabilities it requires (artifacts and on-demand computations) */
  requires: Map<string, string[]>;
  /** model name -> its capabilities */
  capabilities: Map<string, string[]>;
}

let listing: Promise<Listing> | null = null;
const modules = new Map<string, Promise<ComponentType<ViewProps>>>();

function components(): Promise<Listing> {
  listing ??= api.components().then((c) => {
    const rows = (kind: string) => ((c as Record<string, unknown>)[kind] ?? []) as { name: string; requires?: string[]; capabilities?: string[] }[];
    return {
      views: rows("views") as unknown as ViewRow[],
      requires: new Map(rows("computations").map((r) => [r.name, r.requires ?? []])),
      capabilities: new Map(rows("models").map((r) => [r.name, r.capabilities ?? []])),
    };
  });
  listing.catch(() => { listing = null; });
  return listing;
}

const viewRows = () => components().then((l) => l.views);

/** Whether a view applies to a run: it declares no computations, or the run's model can have one of them
 * (an installed computation whose required capabilities the model declares; a run of an unknown model: yes). */
function applies(view: ViewRow, model: string | null | undefined, l: Listing): boolean {
  if (!view.computations.length || !model || !l.capabilities.has(model)) return true;
  const has = new Set(l.capabilities.get(model));
  return view.computations.some((c) => l.requires.has(c) && l.requires.get(c)!.every((cap) => has.has(cap)));
}

function loadModule(url: string): Promise<ComponentType<ViewProps>> {
  let entry = modules.get(url);
  if (!entry) {
    installKit();
    entry = (import(/* webpackIgnore: true */ /* turbopackIgnore: true */ url) as Promise<{ default?: unknown }>).then((m) => {
      if (typeof m.default !== "function") throw new Error(`${url} has no default export that is a React component`);
      return m.default as ComponentType<ViewProps>;
    }, (e: unknown) => whyNotLoaded(url, e));
    entry.catch(() => modules.delete(url));
    modules.set(url, entry);
  }
  return entry;
}

/** The browser says only "failed to fetch" for a module the server refused: ask the server why. */
async function whyNotLoaded(url: string, e: unknown): Promise<never> {
  const said = e instanceof Error ? e.message : String(e);
  let detail: string | null = null;
  try {
    const answer = await fetch(url);
    if (!answer.ok) {
      const body = (await answer.json().catch(() => null)) as { detail?: unknown } | null;
      detail = `the server answered ${answer.status}${typeof body?.detail === "string" ? `: ${body.detail}` : ""}`;
    }
  } catch { /* the server is gone: the browser's words are all there is */ }
  throw new Error(detail ?? said);
}

/** The views of one mount that apply to a run of ``model`` (all when none is given), in order (null until the
 * listing arrives; an unreachable listing shows nothing). */
export function useViews(mount: Mount, model?: string | null): ViewRow[] | null {
  const [rows, setRows] = useState<ViewRow[] | null>(null);
  useEffect(() => {
    let current = true;
    components().then((l) => {
      if (current) {
        setRows(l.views.filter((v) => v.mount === mount && (model === undefined || applies(v, model, l)))
          .sort((a, b) => a.order - b.order || a.name.localeCompare(b.name)));
      }
    }, () => undefined);
    return () => { current = false; };
  }, [mount, model]);
  return rows;
}

/** The computations some view declares (shown by it, not by the generic views); null until the listing arrives. */
export function useViewedComputations(): ReadonlySet<string> | null {
  const [names, setNames] = useState<ReadonlySet<string> | null>(null);
  useEffect(() => {
    let current = true;
    viewRows().then((all) => { if (current) setNames(new Set(all.flatMap((v) => v.computations))); },
      () => { if (current) setNames(new Set()); });
    return () => { current = false; };
  }, []);
  return names;
}

function ViewError({ view, error }: { view: ViewRow; error: string }) {
  return (
    <section className="panel" data-testid="view-error" data-view={view.name}>
      <ErrorBox title={`The view “${view.title}” (plugin ${view.provider}) could not be shown.`}>
        {error} The rest of the page works; <code>latentdeck plugins</code> lists the plugin&apos;s state.
      </ErrorBox>
    </section>
  );
}

class Boundary extends Component<{ view: ViewRow; children: ReactNode }, { error: string | null }> {
  state = { error: null as string | null };
  static getDerivedStateFromError(e: unknown) { return { error: e instanceof Error ? e.message : String(e) }; }
  render() { return this.state.error !== null ? <ViewError view={this.props.view} error={this.state.error} /> : this.props.children; }
}

function LoadedView({ view, props }: { view: ViewRow; props: Omit<ViewProps, "view"> }) {
  const [loaded, setLoaded] = useState<{ View: ComponentType<ViewProps> } | { error: string } | null>(null);
  useEffect(() => {
    let current = true;
    loadModule(view.url).then(
      (View) => { if (current) setLoaded({ View }); },
      (e: unknown) => { if (current) setLoaded({ error: `${view.url}: ${e instanceof Error ? e.message : String(e)}` }); },
    );
    return () => { current = false; };
  }, [view.url]);
  if (!loaded) return null;
  if ("error" in loaded) return <ViewError view={view} error={loaded.error} />;
  const View = loaded.View;
  return <Boundary view={view}><View view={view} {...props} /></Boundary>;
}

/** Every view of ``mount`` (or only the one named ``only``), each in its own slot (data-testid="view-slot", data-view=<name>). */
export function ViewSlot({ mount, props, only }: { mount: Mount; props: Omit<ViewProps, "view">; only?: string }) {
  const views = (useViews(mount, props.run.model) ?? []).filter((v) => only === undefined || v.name === only);
  return (
    <>
      {views.map((view) => (
        <div key={view.name} data-testid="view-slot" data-view={view.name} data-mount={mount}>
          <LoadedView view={view} props={props} />
        </div>
      ))}
    </>
  );
}
