import { mkdtempSync, mkdirSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { buildIsFresh as fresh } from '../../bin/build-state.js';

const dirs: string[] = [];

/** A project root with two source files and a .build/inputs.json that lists them as they are now. */
function project(node = process.version): { dir: string; root: URL } {
  const dir = mkdtempSync(path.join(tmpdir(), 'backbone-build-'));
  dirs.push(dir);
  mkdirSync(path.join(dir, 'cli'));
  mkdirSync(path.join(dir, '.build'));
  writeFileSync(path.join(dir, 'cli', 'main.ts'), "import './other.ts';\n");
  writeFileSync(path.join(dir, 'cli', 'other.ts'), 'export const x = 1;\n');
  const inputs = Object.fromEntries(
    ['cli/main.ts', 'cli/other.ts'].map((f) => {
      const s = statSync(path.join(dir, f));
      return [f, { size: s.size, mtimeMs: s.mtimeMs }];
    }),
  );
  writeFileSync(path.join(dir, '.build', 'inputs.json'), JSON.stringify({ node, inputs }));
  return { dir, root: pathToFileURL(`${dir}/`) };
}

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('the compiled CLI', () => {
  it('runs while every source file it was built from is unchanged', () => {
    expect(fresh(project().root)).toBe(true);
  });

  it('is not used once a source file is edited, touched or removed', () => {
    const edited = project();
    writeFileSync(path.join(edited.dir, 'cli', 'other.ts'), 'export const x = 2;\n'); // same size, new mtime
    utimesSync(path.join(edited.dir, 'cli', 'other.ts'), new Date(), new Date(Date.now() + 5000));
    expect(fresh(edited.root)).toBe(false);

    const grown = project();
    const file = path.join(grown.dir, 'cli', 'main.ts');
    const before = statSync(file);
    writeFileSync(file, "import './other.ts';\nexport {};\n");
    utimesSync(file, before.atime, before.mtime); // mtime kept: the size still tells
    expect(fresh(grown.root)).toBe(false);

    const removed = project();
    unlinkSync(path.join(removed.dir, 'cli', 'other.ts'));
    expect(fresh(removed.root)).toBe(false);
  });

  it('is not used when missing, unreadable or built by another Node version', () => {
    const none = project();
    rmSync(path.join(none.dir, '.build'), { recursive: true });
    expect(fresh(none.root)).toBe(false);

    const broken = project();
    writeFileSync(path.join(broken.dir, '.build', 'inputs.json'), '{"node":');
    expect(fresh(broken.root)).toBe(false);

    expect(fresh(project('v18.0.0').root)).toBe(false);
  });
});
