"use client";
// The latent page's data: the run's file catalogue (the file listing, then, for each epoch that live
// artifact.created events announce while the run trains, that epoch's listing again) and a small cache of parsed
// artifacts (JSON with its array file, lib/artifacts.ts), so switching back to an epoch or playing the timeline
// does not fetch and parse the same file twice.
import { useEffect, useRef, useState } from "react";
import { api, isActive } from "../api";
import { readArtifact } from "../artifacts";
import type { RunFiles } from "../api";
import { addToCatalogue, emptyCatalogue, projectionFile, resolveView } from "./catalogue";
import type { Catalogue } from "./catalogue";


const CACHE_LIMIT = 48;
const cache = new Map<string, Promise<unknown>>();

/** Fetch and parse a run's artifact once (a bounded cache keyed by URL): a JSON file with the arrays of the array
 * file it names, or an array file alone (its metadata holds the JSON's fields), in the one in-memory shape of
 * lib/artifacts.ts (typed arrays; 2-D arrays as a Matrix), whichever format the run was written in. */
export function loadJson<T>(runId: string, name: string): Promise<T> {
  const url = api.artifactUrl(runId, name);
  let entry = cache.get(url);
  if (!entry) {
    entry = readArtifact<T>((file) => api.artifactUrl(runId, file), name);
    entry.catch(() => cache.delete(url));
    cache.set(url, entry);
    while (cache.size > CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  } else {
    cache.delete(url);
    cache.set(url, entry); // most recently used last
  }
  return entry as Promise<T>;
}

export type Loaded<T> = { name: string; doc: T | null; error: string | null };

/** loadJson under the name that says what it reads: an artifact, JSON and arrays. */
export const loadArtifact = loadJson;

/** One run file, parsed; null while loading or when ``name`` is null. */
export function useRunJson<T>(runId: string, name: string | null): Loaded<T> | null {
  const [state, setState] = useState<Loaded<T> | null>(null);
  useEffect(() => {
    if (!name) return;
    let current = true;
    loadJson<T>(runId, name).then(
      (doc) => { if (current) setState({ name, doc, error: null }); },
      (e: unknown) => { if (current) setState({ name, doc: null, error: e instanceof Error ? e.message : String(e) }); },
    );
    return () => { current = false; };
  }, [runId, name]);
  return name && state?.name === name ? state : null;
}

export type Feed = "loading" | "live" | "reconnecting" | "finished";

const early = new Map<string, Promise<RunFiles>>();

/** Start the page's first requests while the run's detail loads: the file listing (useCatalogue takes it) and, as
 * soon as it arrives, the projection file the map will show for ``want`` (the address's view), into loadJson's
 * cache. Loading the page is then one round trip shorter, and the map's file does not wait for React. */
export function prefetchMap(runId: string, want: { method?: string; dims?: number; epoch?: number | null }): void {
  if (early.has(runId)) return;
  const listing = api.files(runId);
  early.set(runId, listing);
  setTimeout(() => { if (early.get(runId) === listing) early.delete(runId); }, 10_000); // never a stale listing later
  listing.then((l) => {
    const c = addToCatalogue(emptyCatalogue(), l.files, l.artifacts);
    const v = resolveView(c, { method: want.method ?? "", dims: want.dims ?? 2, epoch: want.epoch ?? null });
    if (v.method && v.epoch !== null) void loadJson(runId, projectionFile(c, v.method, v.dims, v.epoch)).catch(() => undefined);
  }, () => early.delete(runId));
}

/** The listing prefetchMap started (once), else a new request. */
function takeListing(runId: string): Promise<RunFiles> {
  const started = early.get(runId);
  early.delete(runId);
  return started ?? api.files(runId);
}

const EMPTY = emptyCatalogue();

/** The run's catalogue: the file listing once, then, while the run is active, the listing of every epoch
 * that ``artifact.created`` events of its SSE stream announce (one EventSource, resumed by event id; the
 * whole listing again for a file of no epoch) until the run ends. Names are never parsed here. */
export function useCatalogue(runId: string | null, status: string | undefined): { catalogue: Catalogue; loaded: boolean; feed: Feed } {
  const [state, setState] = useState<{ runId: string | null; catalogue: Catalogue; loaded: boolean }>(
    () => ({ runId: null, catalogue: emptyCatalogue(), loaded: false }));
  const [feed, setFeed] = useState<Feed>("loading");
  const pending = useRef<Set<number | null>>(new Set());
  const active = isActive(status);

  useEffect(() => {
    if (!runId) return;
    let current = true;
    takeListing(runId).then(
      (listing) => { if (current) setState((s) => ({ runId, loaded: true, catalogue: addToCatalogue(s.runId === runId ? s.catalogue : emptyCatalogue(), listing.files, listing.artifacts) })); },
      () => { if (current) setState({ runId, loaded: true, catalogue: emptyCatalogue() }); },
    );
    return () => { current = false; };
  }, [runId]);

  useEffect(() => {
    if (!runId) return;
    if (!active) {
      queueMicrotask(() => setFeed("finished"));
      return;
    }
    let source: EventSource | null = null;
    let cursor = 0;
    let ended = false;
    let closed = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let reopen: ReturnType<typeof setTimeout> | null = null;
    const flush = () => {
      timer = null;
      const epochs = [...pending.current];
      pending.current = new Set();
      const whole = epochs.includes(null);
      for (const epoch of whole ? [undefined] : (epochs as number[])) {
        api.files(runId, { epoch }).then((listing) => {
          if (!closed) setState((s) => ({ ...s, runId, catalogue: addToCatalogue(s.runId === runId ? s.catalogue : emptyCatalogue(), listing.files) }));
        }, () => undefined); // the next announcement, or a reload, lists it again
      }
    };
    const open = () => {
      source = new EventSource(api.eventsUrl(runId, cursor));
      source.onopen = () => setFeed("live");
      source.onmessage = (m) => {
        let event: { seq?: number; type?: string; data?: { name?: string; epoch?: number | null } };
        try { event = JSON.parse(m.data); } catch { return; }
        if (typeof event.seq !== "number" || event.seq <= cursor) return;
        cursor = event.seq;
        if (event.type === "artifact.created" && event.data?.name) {
          pending.current.add(typeof event.data.epoch === "number" ? event.data.epoch : null);
          if (!timer) timer = setTimeout(flush, 250);
        }
        if (event.type === "run.completed" || event.type === "run.cancelled" || event.type === "run.failed") ended = true;
      };
      source.onerror = () => {
        if (!source) return;
        if (ended) {
          source.close();
          source = null;
          flush();
          setFeed("finished");
          return;
        }
        if (source.readyState === EventSource.CLOSED) {
          source.close();
          source = null;
          setFeed("reconnecting");
          reopen = setTimeout(open, 2000);
        } else {
          setFeed("reconnecting");
        }
      };
    };
    open();
    return () => {
      closed = true;
      source?.close();
      if (timer) clearTimeout(timer);
      if (reopen) clearTimeout(reopen);
    };
  }, [runId, active]);

  const mine = state.runId === runId;
  return { catalogue: mine ? state.catalogue : EMPTY, loaded: mine && state.loaded, feed };
}
