// The UI's lint rules, for the core (src/) and every plugin's and example's view sources: scripts/lint.mjs runs
// them from the repository root (so paths are matched both from here and from there).
import nextVitals from "eslint-config-next/core-web-vitals";
import nextTs from "eslint-config-next/typescript";

const own = ["node_modules/**", ".next/**", "out/**", "next-env.d.ts", "src/lib/api-schema.ts"];

const config = [
  ...nextVitals,
  ...nextTs,
  { settings: { next: { rootDir: ["./", "frontend/"] } } },
  { ignores: [...own, ...own.map((p) => `frontend/${p}`), "**/node_modules/**", "plugins/*/*/src/**", "examples/*/src/**"] },
];

export default config;
