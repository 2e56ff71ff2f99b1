"use client";
import { usePathname } from "next/navigation";
import { useSyncExternalStore } from "react";

const noop = () => () => {};

/** The run id in /runs/<id>/...: read from the real address (the export is built for the id "_").
 *  undefined while hydrating (so server and first client render agree), null when there is none. */
export function useRunId(): string | null | undefined {
  return useRouteId("runs");
}

/** The id in /<prefix>/<id>/... (runs, sweeps), read from the real address like useRunId. */
export function useRouteId(prefix: string): string | null | undefined {
  const pathname = usePathname();
  const hydrated = useSyncExternalStore(noop, () => true, () => false);
  if (!hydrated) return undefined;
  const parts = (pathname || window.location.pathname).split("/").filter(Boolean);
  if (parts[0] !== prefix || !parts[1]) return null;
  const id = decodeURIComponent(parts[1]);
  return id === "_" ? null : id;
}
