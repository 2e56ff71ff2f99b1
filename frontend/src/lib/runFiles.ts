// The run's files grouped by the artifact type that declares them (per epoch, the latest mirrors, and files
// of no epoch), from the one file listing (GET /api/runs/{id}/files): the keys come parsed from the
// server, so no name is read here. The run page's generic views draw every type from these groups.
import type { ArtifactType, RunFiles } from "./api";

export interface ArtifactGroup extends ArtifactType {
  /** files per epoch, ascending */
  epochs: { epoch: number; files: string[] }[];
  /** the *_latest mirrors */
  latest: string[];
  /** files of no epoch (run-level files) */
  other: string[];
}

/** The explorer roles (SPEC.md "Explorer roles") the latent page draws itself (cluster scores only colour it, so
 * they do not count). */
export const DRAWN_BY_THE_EXPLORER: ReadonlySet<string> = new Set(["neighbours", "overlay", "input-thumbnails", "reconstruction-thumbnails"]);

/** The artifact types that provide a role the latent explorer draws (whichever plugin provides it; the listing's
 * ``roles`` of each type): the run page leaves them to the explorer. */
export function explorerTypes(listing: RunFiles): Set<string> {
  return new Set(listing.artifacts.filter((t) => (t.roles ?? []).some((role) => DRAWN_BY_THE_EXPLORER.has(role))).map((t) => t.name));
}

/** Every installed artifact type that has files in this run, with its files grouped. */
export function artifactGroups(listing: RunFiles): ArtifactGroup[] {
  const groups = new Map<string, ArtifactGroup>();
  const types = new Map(listing.artifacts.map((t) => [`${t.kind}:${t.name}`, t]));
  for (const row of listing.files) {
    const type = row.artifact ? types.get(`${row.kind}:${row.artifact}`) : undefined;
    if (!type) continue; // projections, checkpoints and undeclared files have views of their own
    const key = `${type.kind}:${type.name}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { ...type, epochs: [], latest: [], other: [] }));
    if (row.epoch !== null) {
      let slot = group.epochs.find((e) => e.epoch === row.epoch);
      if (!slot) group.epochs.push((slot = { epoch: row.epoch, files: [] }));
      slot.files.push(row.name);
    } else (row.latest ? group.latest : group.other).push(row.name);
  }
  for (const group of groups.values()) group.epochs.sort((a, b) => a.epoch - b.epoch);
  return [...groups.values()];
}
