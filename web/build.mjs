#!/usr/bin/env node
// web/build.mjs: makes the web root nginx serves (@WEBROOT@).
//
//   node web/build.mjs [--out DIR] [--no-docs]
//
// The app itself needs no build: web/src/ (HTML, CSS, ES modules) is
// copied as it is.  The API docs page, /api/docs/, gets Swagger UI's
// standalone bundle from the npm package swagger-ui-dist (installed by
// "npm ci" from package-lock.json) and docs/openapi.yaml.  Nothing is
// fetched: a missing package is an error (or --no-docs leaves the page out).
// DIR (default web/dist) is replaced as a whole, through DIR.tmp, so nginx
// never serves half a build.  Uses Node's standard library only.
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync,
	writeFileSync, statSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const top = resolve(here, "..");

let out = join(here, "dist");
let docs = true;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
	if (args[i] === "--out" && args[i + 1]) out = resolve(args[++i]);
	else if (args[i] === "--no-docs") docs = false;
	else {
		console.error("usage: node web/build.mjs [--out DIR] [--no-docs]");
		process.exit(2);
	}
}

function fail(msg) {
	console.error("web/build.mjs: " + msg);
	process.exit(1);
}

// The package's folder: node_modules of the top of the tree (or above).
function pkgDir(name) {
	for (let d = top; ; d = dirname(d)) {
		const p = join(d, "node_modules", name);
		if (existsSync(join(p, "package.json"))) return p;
		if (dirname(d) === d) return null;
	}
}

// DIR is deleted and replaced: never the tree itself or a folder above it.
if (top === out || top.startsWith(out + "/") || out === here ||
    out === dirname(out))
	fail("refusing to replace " + out + ": name a build folder");

const tmp = out + ".tmp";
rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });
cpSync(join(here, "src", "app"), tmp, { recursive: true });

if (docs) {
	const ui = pkgDir("swagger-ui-dist");
	if (!ui) {
		rmSync(tmp, { recursive: true, force: true });
		fail("the npm package swagger-ui-dist is missing: run \"npm ci\" " +
		    "at the top of the tree (or build with --no-docs)");
	}
	const d = join(tmp, "api", "docs");
	mkdirSync(d, { recursive: true });
	cpSync(join(here, "src", "docs"), d, { recursive: true });
	// The bundle and its stylesheet, without the source map comments (no
	// request for a .map file that is not there).
	for (const f of ["swagger-ui-bundle.js", "swagger-ui.css"]) {
		const text = readFileSync(join(ui, f), "utf8")
		    .replace(/\n\/[/*]# sourceMappingURL=[^\n]*\s*$/, "\n");
		writeFileSync(join(d, f), text);
	}
	for (const f of ["LICENSE", "NOTICE"]) {
		if (existsSync(join(ui, f)))
			cpSync(join(ui, f), join(d, "swagger-ui-" + f + ".txt"));
	}
	const version = JSON.parse(readFileSync(join(ui, "package.json"),
	    "utf8")).version;
	cpSync(join(top, "docs", "openapi.yaml"), join(d, "openapi.yaml"));
	writeFileSync(join(d, "VERSION.txt"), "swagger-ui-dist " + version + "\n");
}

rmSync(out, { recursive: true, force: true });
renameSync(tmp, out);

// Report the size of the app (not the docs bundle): it is meant to stay
// small.
function size(dir) {
	let n = 0;
	for (const e of readdirSync(dir, { withFileTypes: true })) {
		const p = join(dir, e.name);
		if (e.isDirectory()) {
			if (p !== join(out, "api")) n += size(p);
		} else n += statSync(p).size;
	}
	return n;
}
console.log("web/build.mjs: " + out + " (app " +
    Math.round(size(out) / 1024) + " KiB" + (docs ? ", with /api/docs" : "") +
    ")");
