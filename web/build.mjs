// Builds assets/editor.js (the CodeMirror bundle, minified) and
// assets/editor-licenses.txt (the licenses of the packages inside it).
// Run: cd web && npm ci && npm run build
import * as esbuild from "esbuild";
import { readFileSync, writeFileSync, existsSync } from "node:fs";

const result = await esbuild.build({
  entryPoints: ["src/editor.js"],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  outfile: "assets/editor.js",
  banner: { js: "/* OnPyRunner editor: CodeMirror 6 and Lezer (MIT); licenses in /assets/editor-licenses.txt */" },
  legalComments: "none",
  metafile: true,
});

// Each package that went into the bundle, with its license text.
const pkgs = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (m) pkgs.add(m[1]);
}
let out = "Third-party software in editor.js, with its licenses.\n";
for (const name of [...pkgs].sort()) {
  const dir = `node_modules/${name}`;
  const { version, license } = JSON.parse(readFileSync(`${dir}/package.json`, "utf8"));
  out += `\n==== ${name} ${version} (${license}) ====\n\n`;
  const file = ["LICENSE", "LICENSE.md", "LICENSE.txt"].map((f) => `${dir}/${f}`).find(existsSync);
  out += file ? readFileSync(file, "utf8").trim() + "\n" : `See the ${license} license.\n`;
}
writeFileSync("assets/editor-licenses.txt", out);
console.log(`assets/editor.js: ${result.metafile.outputs["assets/editor.js"].bytes} bytes from ${pkgs.size} packages`);
