// Builds the dashboard into ../src/tuyagate/gateway/dashboard/ (what the Python package ships):
// one ES module entry with hashed names, the chart code split off (loaded by device pages only),
// index.html pointing at them, and build-info.json with a hash of every input, which a test compares
// with the sources so that a forgotten rebuild fails the suite. Run through ./build.sh.

import * as esbuild from "esbuild";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join, relative } from "node:path";

const here = new URL(".", import.meta.url).pathname;
const out = join(here, "..", "src", "tuyagate", "gateway", "dashboard");
const INPUTS = ["build.mjs", "package.json", "package-lock.json", "tsconfig.json", "src"];

function files(path) {
  const full = join(here, path);
  if (statSync(full).isDirectory()) return readdirSync(full).sort().flatMap((name) => files(join(path, name)));
  return [path];
}

// The same digest as tests/gateway/test_dashboard_build.py computes: path NUL content NUL, sorted by path.
export function sourceDigest() {
  const hash = createHash("sha256");
  for (const path of INPUTS.flatMap(files).sort()) {
    hash.update(path.split("\\").join("/") + "\0");
    hash.update(readFileSync(join(here, path)));
    hash.update("\0");
  }
  return hash.digest("hex");
}

mkdirSync(out, { recursive: true });
for (const name of readdirSync(out)) rmSync(join(out, name));

const result = await esbuild.build({
  entryPoints: [join(here, "src", "main.ts")],
  bundle: true,
  splitting: true,
  format: "esm",
  minify: !process.env.DASHBOARD_NO_MINIFY, // DASHBOARD_NO_MINIFY=1: a readable build for profiling (never commit one)
  target: ["es2022"],
  outdir: out,
  entryNames: "[name]-[hash]",
  chunkNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  legalComments: "eof",
  metafile: true,
  logLevel: "warning",
});

const outputs = result.metafile.outputs;
const entry = Object.entries(outputs).find(([, o]) => o.entryPoint && o.entryPoint.endsWith("src/main.ts"));
const js = relative(out, join(here, entry[0]));
const css = relative(out, join(here, entry[1].cssBundle));
const page = readFileSync(join(here, "src", "index.html"), "utf8").replace("{{main.js}}", js).replace("{{main.css}}", css);
writeFileSync(join(out, "index.html"), page);
copyFileSync(join(here, "src", "icon.svg"), join(out, "icon.svg"));

const lock = JSON.parse(readFileSync(join(here, "package-lock.json"), "utf8"));
const version = (name) => lock.packages[`node_modules/${name}`]?.version;
const sizes = {};
for (const name of readdirSync(out).sort()) {
  const body = readFileSync(join(out, name));
  sizes[name] = { bytes: body.length, gzip: gzipSync(body, { level: 9 }).length };
}
const info = {
  note: "written by dashboard/build.sh; do not edit",
  sources: sourceDigest(),
  entry: js,
  versions: { esbuild: version("esbuild"), typescript: version("typescript"), uplot: version("uplot") },
  files: sizes,
};
writeFileSync(join(out, "build-info.json"), JSON.stringify(info, null, 2) + "\n");
const first = [js, css, "index.html"].reduce((sum, name) => sum + sizes[name].gzip, 0);
const all = Object.values(sizes).reduce((sum, s) => sum + s.gzip, 0);
console.log(`dashboard built into ${relative(process.cwd(), out)}: first load ${first} B gzipped, all assets ${all} B gzipped`);
