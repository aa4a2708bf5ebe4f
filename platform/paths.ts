/**
 * The project's root directory (the one with its package.json) and the files under it that code
 * reads at run time. The root is found by walking up from this module, so the same paths hold when
 * the code runs from the TypeScript sources and when it runs compiled into .build/ (see
 * scripts/build.mjs): a path relative to a module's own location would not.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'genomic-backbone';

function findRoot(from: string): string {
  for (let dir = from; ; ) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === PACKAGE_NAME) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json of ${PACKAGE_NAME} above ${from}`);
    dir = up;
  }
}

export const ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));

/** A path under the project root, from its parts ('schemas', 'catalogue.json'). */
export function fromRoot(...parts: string[]): string {
  return path.join(ROOT, ...parts);
}
