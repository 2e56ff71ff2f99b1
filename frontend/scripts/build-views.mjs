// Bundles every plugin's views: plugins/<kind>/<name>/frontend/<view>.tsx (a .tsx file whose name has no capital,
// the module of ViewSpec "<view>") -> plugins/<kind>/<name>/src/<package>/views/<view>.js, one ES module per
// view with its CSS inside (CSS modules, classes named "<view>__<file>_<class>"). React, react/jsx-runtime and
// @latentdeck/view-kit are not bundled: they are read from window.__latentdeck, which the page fills with its
// own copies (src/viewkit/ViewSlot.tsx), so a view never carries a second React. Run by scripts/setup.sh (./lab, ./test); writes a file only when it changed.
// Usage: node scripts/build-views.mjs [plugin folder ...]   (default: every plugin and example with a frontend/)
import { build, transform } from "esbuild";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { pluginFolders, root } from "./plugin-folders.mjs";
const SHARED = ["react", "react/jsx-runtime", "@latentdeck/view-kit", "@latentdeck/view-kit/explorer"];

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

/** CSS modules: each class becomes "<view>__<file>_<class>" (unique on the page whatever the minifier does),
 * the stylesheet is added once to the page as <style data-view-css>, and the module exports the name map. */
function cssModules(view) {
  return {
    name: "latentdeck-css-modules",
    setup(b) {
      b.onLoad({ filter: /\.module\.css$/ }, async (args) => {
        const stem = basename(args.path).replace(/\.module\.css$/, "").replace(/[^\w-]/g, "_");
        const names = {};
        const source = readFileSync(args.path, "utf8").replace(/\/\*[\s\S]*?\*\//g, "")
          .replace(/\.([_a-zA-Z][\w-]*)/g, (_, name) => `.${(names[name] = `${view}__${stem}_${name}`)}`);
        const { code } = await transform(source, { loader: "css", minify: true });
        const id = `${view}__${stem}`;
        return {
          loader: "js",
          contents: `if (typeof document !== "undefined" && !document.querySelector(${JSON.stringify(`style[data-view-css="${id}"]`)})) {
  const s = document.createElement("style"); s.dataset.viewCss = ${JSON.stringify(id)}; s.textContent = ${JSON.stringify(code)};
  document.head.appendChild(s);
}
export default ${JSON.stringify(names)};`,
        };
      });
    },
  };
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
    entryPoints: [entry], bundle: true, format: "esm", target: "es2022", minify: true,
     write: false, outdir: "/out",
    jsx: "automatic", plugins: [shared, cssModules(name)], logLevel: "silent",
    legalComments: "none", define: { "process.env.NODE_ENV": '"production"' },
  });
  if (result.outputFiles.some((f) => !f.path.endsWith(".js"))) throw new Error(`${entry}: import CSS as a *.module.css file`);
  const js = result.outputFiles.find((f) => f.path.endsWith(".js"))?.text ?? "";
  return { name, text: `// latentdeck view ${name}: built from ${entry.slice(root.length + 1)} by frontend/scripts/build-views.mjs\n${js}` };
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
