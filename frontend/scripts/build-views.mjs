// Bundles every plugin's views: plugins/<kind>/<name>/frontend/<view>.tsx (a .tsx file whose name has no capital,
// the module of ViewSpec "<view>") -> plugins/<kind>/<name>/src/<package>/views/<view>.js, one ES module per
// view with its CSS inside. React, react/jsx-runtime and @latentdeck/view-kit are not bundled: they are read
// from window.__latentdeck, which the page fills with its own copies (src/viewkit/ViewSlot.tsx), so a view
// never carries a second React. Run by scripts/setup.sh (./lab, ./test); writes a file only when it changed.
// Usage: node scripts/build-views.mjs [plugin folder ...]   (default: every plugin and example with a frontend/)
import { build } from "esbuild";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SHARED = ["react", "react/jsx-runtime", "@latentdeck/view-kit"];

const shared = {
  name: "latentdeck-shared",
  setup(b) {
    const filter = new RegExp(`^(${SHARED.map((m) => m.replace(/[/.]/g, "\\$&")).join("|")})$`);
    b.onResolve({ filter }, (args) => ({ path: args.path, namespace: "latentdeck-shared" }));
    b.onLoad({ filter: /.*/, namespace: "latentdeck-shared" }, (args) => ({
      // a CommonJS shim: esbuild reads named imports from it as properties, at use time
      contents: `const m = (globalThis.__latentdeck || {})[${JSON.stringify(args.path)}];
if (!m) throw new Error(${JSON.stringify(`this view needs the latentdeck page (window.__latentdeck["${args.path}"] is missing)`)});
module.exports = m;`,
      loader: "js",
    }));
  },
};

function pluginFolders() {
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

function packageDir(plugin) {
  const src = join(plugin, "src");
  const packages = existsSync(src) ? readdirSync(src).filter((d) => existsSync(join(src, d, "__init__.py")) || existsSync(join(src, d, "plugin.py"))) : [];
  if (packages.length !== 1) throw new Error(`${plugin}: expected one Python package under src/, found ${packages.length ? packages.join(", ") : "none"}`);
  return join(src, packages[0]);
}

async function bundle(entry) {
  const name = basename(entry).replace(/\.tsx?$/, "");
  const result = await build({
    entryPoints: [entry], bundle: true, format: "esm", target: "es2022", minifySyntax: true, minifyWhitespace: true, // identifiers kept: CSS class names stay "<file>_<class>"
     write: false, outdir: "/out",
    jsx: "automatic", loader: { ".module.css": "local-css", ".css": "css" }, plugins: [shared], logLevel: "silent",
    legalComments: "none", define: { "process.env.NODE_ENV": '"production"' },
  });
  const js = result.outputFiles.find((f) => f.path.endsWith(".js"))?.text ?? "";
  const css = result.outputFiles.find((f) => f.path.endsWith(".css"))?.text ?? "";
  const style = css ? `(()=>{if(typeof document>"u"||document.querySelector('style[data-view=${JSON.stringify(name)}]'))return;` +
    `const s=document.createElement("style");s.dataset.view=${JSON.stringify(name)};s.textContent=${JSON.stringify(css)};document.head.appendChild(s)})();\n` : "";
  return { name, text: `// latentdeck view ${name}: built from ${entry.slice(root.length + 1)} by frontend/scripts/build-views.mjs\n${style}${js}` };
}

const asked = process.argv.slice(2).map((p) => resolve(p));
let written = 0, total = 0;
for (const plugin of asked.length ? asked : pluginFolders()) {
  const entries = readdirSync(join(plugin, "frontend")).filter((f) => /^[a-z0-9][a-z0-9_-]*\.tsx$/.test(f) && !/\.test\.tsx$/.test(f));
  if (!entries.length) continue;
  const out = join(packageDir(plugin), "views");
  mkdirSync(out, { recursive: true });
  for (const entry of entries) {
    const { name, text } = await bundle(join(plugin, "frontend", entry));
    const target = join(out, `${name}.js`);
    total += 1;
    if (existsSync(target) && readFileSync(target, "utf8") === text) continue;
    writeFileSync(target, text);
    written += 1;
  }
}
console.error(`plugin views: ${total} bundled, ${written} written`);
