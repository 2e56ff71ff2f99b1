"use client";
import { useCallback, useEffect, useState } from "react";
import { ApiError } from "./api";

const always = () => true;

/** Load `fetcher` (none yet: null, nothing loads) now and again every `intervalMs` while
 *  `keepPolling(latest answer)` holds; the last answer, the last error (null after a success) and
 *  `reload` for after an action. `fetcher` and `keepPolling` must be stable (module-level or
 *  memoised) or the polling restarts on every render. */
export function usePolled<T>(fetcher: (() => Promise<T>) | null, intervalMs: number,
                             keepPolling: (latest: T | null) => boolean = always) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);

  const reload = useCallback(async (): Promise<T | null> => {
    if (!fetcher) return null;
    try {
      const answer = await fetcher();
      setData(answer);
      setError(null);
      return answer;
    } catch (e) {
      setError(e instanceof ApiError ? e.detail : String(e));
      return null;
    }
  }, [fetcher]);

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout>;
    let stopped = false;
    const tick = async () => {
      const latest = await reload();
      if (!stopped && keepPolling(latest)) timer = setTimeout(tick, intervalMs);
    };
    tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [reload, intervalMs, keepPolling]);

  return { data, error, reload };
}
