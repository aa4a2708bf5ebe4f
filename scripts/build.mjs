#!/usr/bin/env node
/**
 * Compiles the CLI (cli/main.ts and everything it imports; subcommands become chunks loaded on
 * demand) into .build/, so that `backbone` runs as plain JavaScript: no TypeScript loader thread,
 * ~0.4 s faster to start and ~40 MB less memory per process. npm ci runs this (the prepare script).
 *
 * .build/inputs.json lists every source file that went into the build with its size and mtime;
 * bin/backbone.js uses the build only while all of them are unchanged, and otherwise runs the
 * sources through tsx, so an edited checkout never runs stale code.
 */
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const out = path.join(root, '.build');
const started = performance.now();

await rm(out, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { main: 'cli/main.ts' },
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Dependencies stay in node_modules and load as they would from the sources.
  packages: 'external',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
});

const inputs = {};
for (const file of Object.keys(result.metafile.inputs).sort()) {
  const s = await stat(path.join(root, file));
  inputs[file] = { size: s.size, mtimeMs: s.mtimeMs };
}
await mkdir(out, { recursive: true });
await writeFile(path.join(out, 'inputs.json'), `${JSON.stringify({ node: process.version, inputs }, null, 1)}\n`);
console.error(`built .build/ from ${Object.keys(inputs).length} source files in ${((performance.now() - started) / 1000).toFixed(1)} s`);
