// The plugins and examples that ship a UI: <root>/plugins/<kind>/<name>/frontend and <root>/examples/<name>/frontend
// (used by build-views.mjs and lint.mjs).
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Every plugin folder (the one holding frontend/), sorted. */
export function pluginFolders() {
  const found = [];
  for (const top of ["plugins", "examples"]) {
    const base = join(root, top);
    if (!existsSync(base)) continue;
    for (const a of readdirSync(base)) {
      const one = join(base, a);
      if (existsSync(join(one, "frontend"))) found.push(one);
      else if (statSync(one).isDirectory()) for (const b of readdirSync(one)) if (existsSync(join(one, b, "frontend"))) found.push(join(one, b));
    }
  }
  return found.sort();
}
