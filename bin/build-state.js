// Whether .build/ (see scripts/build.mjs) may run: built by this Node version, and every source file
// that went into it unchanged (same size and mtime). Any doubt means no: the sources then run
// through tsx, which is slower to start but never stale.
import { readFileSync, statSync } from 'node:fs';

/** @param {URL} root the project root, as a directory URL */
export function buildIsFresh(root) {
  try {
    const { node, inputs } = JSON.parse(readFileSync(new URL('.build/inputs.json', root), 'utf8'));
    if (node !== process.version) return false;
    const files = Object.entries(inputs);
    if (files.length === 0) return false;
    for (const [file, { size, mtimeMs }] of files) {
      const s = statSync(new URL(file, root));
      if (s.size !== size || s.mtimeMs !== mtimeMs) return false;
    }
    return true;
  } catch {
    return false; // no build, or a file it used is gone
  }
}
