// Lints the core UI and every plugin's and example's view sources (plugins/*/*/frontend, examples/*/frontend) with
// the core's rules (eslint.config.mjs), from the repository root so that the plugins' folders are inside ESLint's
// base path. `npm run lint` (and tests/test_plugin_views.py) run it; exits 1 on any error or warning.
// Usage: node scripts/lint.mjs [--fix]
import { ESLint } from "eslint";
import { join, relative } from "node:path";
import { pluginFolders, root } from "./plugin-folders.mjs";

const targets = [join(root, "frontend", "src"), ...pluginFolders().map((p) => join(p, "frontend"))];
const eslint = new ESLint({ cwd: root, overrideConfigFile: join(root, "frontend", "eslint.config.mjs"), fix: process.argv.includes("--fix") });
const results = await eslint.lintFiles(targets);
if (process.argv.includes("--fix")) await ESLint.outputFixes(results);
const text = (await eslint.loadFormatter("stylish")).format(results);
const warnings = results.reduce((n, r) => n + r.warningCount, 0), errors = results.reduce((n, r) => n + r.errorCount, 0);
if (text) console.log(text);
console.error(`lint: ${results.length} files in ${targets.map((t) => relative(root, t)).join(", ")}: ${errors} errors, ${warnings} warnings`);
process.exit(errors || warnings ? 1 : 0);
