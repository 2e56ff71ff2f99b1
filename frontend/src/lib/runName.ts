// What a run is called on screen: its given name, else the preset it started from, else its id; with the
// start time read from the id (YYYYMMDD-HHMMSS-xxxxxx) so two runs of one preset can be told apart.

export interface Nameable {
  run_id: string;
  name?: string | null;
  preset?: string | null;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** The run's display name: its name, else its preset, else its id. */
export function runName(run: Nameable): string {
  return run.name?.trim() || run.preset || run.run_id;
}

/** "7 Dec 15:51" from an id like 20261207-155144-db9a35 (null for other ids). */
export function startedOf(runId: string): string | null {
  const m = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})\d{2}-/.exec(runId);
  if (!m) return null;
  const month = MONTHS[Number(m[2]) - 1];
  return month ? `${Number(m[3])} ${month} ${m[4]}:${m[5]}` : null;
}

/** One line for a picker: "gmvae-spec · 7 Dec 15:51" (the id when there is no name, preset or time). */
export function runLabel(run: Nameable): string {
  const name = runName(run);
  const when = startedOf(run.run_id);
  return name === run.run_id || !when ? name : `${name} · ${when}`;
}
