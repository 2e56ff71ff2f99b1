/** The epochs of the run files whose names match ``pattern`` (its first group is the epoch), ascending. */
export function epochsOf(files: readonly string[], pattern: RegExp): number[] {
  const epochs = new Set<number>();
  for (const name of files) {
    const m = pattern.exec(name);
    if (m) epochs.add(Number(m[1]));
  }
  return [...epochs].sort((a, b) => a - b);
}
