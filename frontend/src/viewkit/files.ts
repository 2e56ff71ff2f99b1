// Finding a view's files among the rows of the run's one listing (GET /api/runs/{id}/files, ViewProps.files): by the
// keys the server read from each name (artifact, epoch, method ...), so no view parses or spells a file name.
import { useMemo } from "react";
import type { FileRow } from "./contract";

/** Which files: those of one artifact type (or on-demand computation), optionally of one projection method and
 * with one ending (".json", ".png": an artifact may write both at an epoch). */
/** Which files: those of one computation (``artifact``) and/or of one explorer role (``role``: whichever plugin
 * provides it, SPEC.md "Explorer roles"), optionally of one projection ``method`` and ending in ``ext``. */
export interface FileQuery { artifact?: string; role?: string; method?: string; ext?: string }

const matches = (row: FileRow, q: FileQuery) =>
  (q.artifact === undefined || row.artifact === q.artifact) && (q.role === undefined || row.role === q.role)
  && (q.method === undefined || row.method === q.method) && (q.ext === undefined || row.name.endsWith(q.ext));

/** The files of ``query`` by epoch (epoch -> name, ascending epochs; the *_latest mirrors and files of no epoch are
 * left out). */
export function filesByEpoch(files: readonly FileRow[], query: FileQuery): Map<number, string> {
  const found = files.filter((r) => !r.latest && r.epoch !== null && matches(r, query)).map((r) => [r.epoch!, r.name] as const);
  return new Map(found.sort((a, b) => a[0] - b[0]));
}

/** The epochs with a file of ``query``, ascending. */
export function epochsOf(files: readonly FileRow[], query: FileQuery): number[] {
  return [...filesByEpoch(files, query).keys()];
}

/** The name of the file of ``query`` at ``epoch`` (null: a file of no epoch, such as a run-level thumbnail sheet), or null
 * when the run has none. */
export function fileOf(files: readonly FileRow[], query: FileQuery & { epoch: number | null }): string | null {
  return files.find((r) => !r.latest && r.epoch === query.epoch && matches(r, query))?.name ?? null;
}

/** filesByEpoch as a hook: the same Map object while the matching files do not change. */
export function useFilesByEpoch(files: readonly FileRow[], query: FileQuery): ReadonlyMap<number, string> {
  const found = filesByEpoch(files, query);
  const key = [...found].map(([e, n]) => `${e}\t${n}`).join("\n");
  // eslint-disable-next-line react-hooks/exhaustive-deps -- the files by value
  return useMemo(() => found, [key]);
}
