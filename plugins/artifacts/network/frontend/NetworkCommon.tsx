import { useEffect, useState } from "react";
import type { ImgHTMLAttributes } from "react";
import { api, ApiError } from "@latentdeck/view-kit";
import type { Compute, OnDemandResult } from "@latentdeck/view-kit";
import type { NetworkKind } from "./payloads";

/** Shared by the network view's panels: asking one network computation, and showing a run file. */

export type Params = Record<string, string | number>;

export const toApiError = (e: unknown) => (e instanceof ApiError ? e : new ApiError(0, String(e)));

/** One network computation through the view's ``compute``: computed on the first request, then read from disk.
 *  `last` keeps the previous answer while a new one loads (the perturbation slider stays steady). */
export function useNetwork<T>(compute: Compute, kind: NetworkKind, params: Params | null) {
  const key = params ? JSON.stringify(params) : null;
  const [state, setState] = useState<{ key: string | null; data: OnDemandResult | null; error: ApiError | null }>(
    { key: null, data: null, error: null });
  useEffect(() => {
    if (!key) return;
    let cancelled = false;
    compute(`network-${kind}`, JSON.parse(key) as Params).then(
      (data) => { if (!cancelled) setState({ key, data, error: null }); },
      (e: unknown) => { if (!cancelled) setState({ key, data: null, error: toApiError(e) }); },
    );
    return () => { cancelled = true; };
  }, [compute, kind, key]);
  const current = state.key === key;
  return {
    artifact: current ? state.data : null,
    payload: (current ? state.data?.payload ?? null : null) as T | null,
    last: (state.data?.payload ?? null) as T | null,
    lastArtifact: state.data,
    error: current ? state.error : null,
    loading: key !== null && !current,
  };
}

/** A run file served by the API (next/image optimises static assets, not these). */
export function Img({ alt, ...rest }: ImgHTMLAttributes<HTMLImageElement> & { alt: string }) {
  // eslint-disable-next-line @next/next/no-img-element -- a run artifact served by the API, not a static asset
  return <img alt={alt} {...rest} />;
}

export const url = (runId: string, folder: string | null | undefined, name: string) => (folder ? api.artifactUrl(runId, `${folder}/${name}`) : "");
