"use client";
// One EventSource per page, resumed by seq. The browser reconnects by itself (sending
// Last-Event-ID) after a stream ends or the connection drops; when it gives up (a non-200 answer, or a
// 204 once the run has ended) this hook reopens the stream itself with ?last_event_id=<cursor>,
// because a fresh EventSource never sends the header. Events are buffered and applied at most
// every FLUSH_MS, so rendering stays smooth however fast they arrive.
import { useEffect, useReducer, useRef, useState } from "react";
import { api } from "./api";
import type { RunFile } from "./api";
import { applyArtifacts, applyEvents, initialRunState } from "./runState";
import type { RunEvent, RunState } from "./runState";

export const FLUSH_MS = 100; // ≤ 10 UI updates a second
const REOPEN_MS = [1000, 2000, 4000, 8000];

export type Connection = "connecting" | "live" | "reconnecting" | "replay" | "ended" | "offline";

type Action = { kind: "events"; events: RunEvent[] } | { kind: "artifacts"; artifacts: RunFile[] };

function reducer(state: RunState, action: Action): RunState {
  if (action.kind === "events") return applyEvents(state, action.events);
  return applyArtifacts(state, action.artifacts);
}

export interface RunEventsResult {
  state: RunState;
  connection: Connection;
  updates: number; // renders caused by event batches (for the benchmark)
  mergeArtifacts: (artifacts: RunFile[]) => void;
}

/** Follow run ``runId``'s events from the first one; null follows nothing (no run, or it does not exist). */
export function useRunEvents(runId: string | null): RunEventsResult {
  const [state, dispatch] = useReducer(reducer, undefined, initialRunState);
  const [connection, setConnection] = useState<Connection>("connecting");
  const [updates, setUpdates] = useState(0);
  const cursor = useRef(0);
  const endedRef = useRef(false);

  useEffect(() => {
    if (!runId) return;
    let source: EventSource | null = null;
    let buffer: RunEvent[] = [];
    let flushTimer: ReturnType<typeof setTimeout> | null = null;
    let reopenTimer: ReturnType<typeof setTimeout> | null = null;
    let failures = 0;
    let disposed = false;
    // (the component using this hook is keyed by run id, so state starts fresh for each run)

    let lastFlush = 0;
    const flush = () => {
      flushTimer = null;
      lastFlush = performance.now();
      if (buffer.length === 0) return;
      const batch = buffer;
      buffer = [];
      dispatch({ kind: "events", events: batch });
      setUpdates((n) => n + 1);
    };

    const open = () => {
      if (disposed) return;
      source = new EventSource(api.eventsUrl(runId, cursor.current));
      source.onopen = () => {
        failures = 0;
        if (!endedRef.current) setConnection("live");
      };
      source.onmessage = (message) => {
        let event: RunEvent;
        try {
          event = JSON.parse(message.data) as RunEvent;
        } catch {
          return; // a malformed frame is skipped; the next one carries on
        }
        if (typeof event.seq !== "number" || event.seq <= cursor.current) return;
        cursor.current = event.seq;
        if (event.type === "run.completed" || event.type === "run.cancelled" || event.type === "run.failed") {
          endedRef.current = true;
        }
        buffer.push(event);
        // leading edge: the first batch draws at once, later ones at most every FLUSH_MS
        if (flushTimer === null) flushTimer = setTimeout(flush, Math.max(0, FLUSH_MS - (performance.now() - lastFlush)));
      };
      source.onerror = () => {
        if (disposed || !source) return;
        if (endedRef.current) {
          // the run is over: the server closed the stream after its terminal event; stop here
          source.close();
          source = null;
          setConnection("ended");
          return;
        }
        if (source.readyState === EventSource.CONNECTING) {
          setConnection("reconnecting"); // the browser retries by itself, with Last-Event-ID
          return;
        }
        // CLOSED: the browser gave up (an error status, or 204); reopen from our own cursor
        source.close();
        source = null;
        setConnection("reconnecting");
        const wait = REOPEN_MS[Math.min(failures, REOPEN_MS.length - 1)];
        failures += 1;
        reopenTimer = setTimeout(open, wait);
      };
    };
    open();

    return () => {
      disposed = true;
      source?.close();
      if (flushTimer) clearTimeout(flushTimer);
      if (reopenTimer) clearTimeout(reopenTimer);
    };
  }, [runId]);

  return {
    state,
    connection,
    updates,
    mergeArtifacts: (artifacts) => dispatch({ kind: "artifacts", artifacts }),
  };
}
