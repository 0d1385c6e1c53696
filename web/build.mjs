// Bundles the UI into ../static: `node build.mjs` writes it, `node build.mjs --check` fails
// when the committed bundle differs from what the sources make (the build is deterministic:
// content-hashed names, no timestamps).
import { readFileSync, writeFileSync, readdirSync, mkdirSync, rmSync, existsSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "static");

/** Every file the bundle consists of: path under static/ → bytes. */
async function bundle() {
  const result = await esbuild.build({
    absWorkingDir: here,
    entryPoints: ["src/main.tsx"],
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2020",
    jsx: "automatic",
    jsxImportSource: "preact",
    entryNames: "assets/[name]-[hash]",
    outdir: out,
    legalComments: "none",
    charset: "utf8",
    write: false,
    logLevel: "warning",
  });
  const files = new Map();
  for (const file of result.outputFiles) {
    files.set(relative(out, file.path), Buffer.from(file.contents));
  }
  const asset = (ext) => [...files.keys()].find((p) => p.startsWith("assets/main-") && p.endsWith(ext));
  const html = readFileSync(join(here, "index.html"), "utf8")
    .replace("{{script}}", `/ui/${asset(".js")}`)
    .replace("{{style}}", `/ui/${asset(".css")}`);
  files.set("index.html", Buffer.from(html));
  files.set("favicon.svg", readFileSync(join(here, "favicon.svg")));
  return files;
}

/** Path under static/ → bytes, for what is there now. */
function committed(dir = out, files = new Map()) {
  if (!existsSync(dir)) return files;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) committed(path, files);
    else files.set(relative(out, path), readFileSync(path));
  }
  return files;
}

const wanted = await bundle();
if (process.argv.includes("--check")) {
  const present = committed();
  const differs = [...new Set([...wanted.keys(), ...present.keys()])].filter((path) => {
    const a = wanted.get(path);
    const b = present.get(path);
    return !a || !b || !a.equals(b);
  });
  if (differs.length) {
    console.error(`static/ is not the bundle of web/: ${differs.sort().join(", ")}; run \`npm run build\` in web/`);
    process.exit(1);
  }
  console.log(`static/ is the bundle of web/ (${wanted.size} files)`);
} else {
  rmSync(out, { recursive: true, force: true });
  for (const [path, bytes] of wanted) {
    mkdirSync(dirname(join(out, path)), { recursive: true });
    writeFileSync(join(out, path), bytes);
  }
  console.log(`wrote ${wanted.size} files to static/`);
}
