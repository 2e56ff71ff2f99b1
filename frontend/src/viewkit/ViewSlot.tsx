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

/** Put the page's shared modules where the views' bundles look for them (scripts/build-views.mjs). */
export function installKit(): void {
  if (typeof window === "undefined" || window.__latentdeck) return;
  window.__latentdeck = { react: React, "react/jsx-runtime": jsxRuntime, "@latentdeck/view-kit": kit };
}

let listing: Promise<ViewRow[]> | null = null;
const modules = new Map<string, Promise<ComponentType<ViewProps>>>();

function viewRows(): Promise<ViewRow[]> {
  listing ??= api.components().then((c) => ((c as Record<string, unknown>).views ?? []) as ViewRow[]);
  listing.catch(() => { listing = null; });
  return listing;
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

/** The views of one mount, in order (empty until the listing arrives; an unreachable listing shows nothing). */
export function useViews(mount: Mount): ViewRow[] {
  const [rows, setRows] = useState<ViewRow[]>([]);
  useEffect(() => {
    let current = true;
    viewRows().then((all) => {
      if (current) setRows(all.filter((v) => v.mount === mount).sort((a, b) => a.order - b.order || a.name.localeCompare(b.name)));
    }, () => undefined);
    return () => { current = false; };
  }, [mount]);
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

/** Every view of ``mount``, each in its own slot (data-testid="view-slot", data-view=<name>). */
export function ViewSlot({ mount, props }: { mount: Mount; props: Omit<ViewProps, "view"> }) {
  const views = useViews(mount);
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
