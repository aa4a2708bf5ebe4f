/**
 * BACKWARD compatibility of the committed schemas against their released versions
 * (schemas/released/<schema>/vN.avsc): a consumer on the current schema must read data written with
 * every released version. Checked offline in the test command, so an incompatible change fails CI
 * before any registry sees it.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import avro from 'avsc';
import { SCHEMAS_DIR, catalogue, type CatalogueEntry } from './catalogue.ts';

export interface CompatProblem {
  schema: string;
  version: string;
  reason: string;
}

export function releasedDir(e: CatalogueEntry, root = SCHEMAS_DIR): string {
  return path.join(root, 'released', path.basename(e.valueSchema, '.avsc'));
}

export function releasedVersions(e: CatalogueEntry, root = SCHEMAS_DIR): { version: number; file: string; schema: object }[] {
  const dir = releasedDir(e, root);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((f) => ({ f, m: /^v(\d+)\.avsc$/.exec(f) }))
    .filter((x): x is { f: string; m: RegExpExecArray } => x.m !== null)
    .map(({ f, m }) => ({ version: Number(m[1]), file: path.join(dir, f), schema: JSON.parse(readFileSync(path.join(dir, f), "utf8")) as object }))
    .sort((a, b) => a.version - b.version);
}

/** Why `reader` cannot read data written with `writer`, or undefined when it can. */
export function backwardProblem(reader: object, writer: object): string | undefined {
  const r = avro.Type.forSchema(reader as avro.Schema);
  const w = avro.Type.forSchema(writer as avro.Schema);
  if (r.name !== w.name) return `record name changed from ${w.name ?? '?'} to ${r.name ?? '?'}`;
  try {
    r.createResolver(w);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

export function checkCompatibility(entries: CatalogueEntry[] = catalogue(), root = SCHEMAS_DIR): CompatProblem[] {
  const problems: CompatProblem[] = [];
  for (const e of entries) {
    for (const released of releasedVersions(e, root)) {
      const reason = backwardProblem(e.schema, released.schema);
      if (reason !== undefined) problems.push({ schema: e.valueSchema, version: `v${released.version}`, reason });
    }
  }
  return problems;
}

/** Entries whose current schema has no released version yet, or differs from the newest one. */
export function unreleased(entries: CatalogueEntry[] = catalogue(), root = SCHEMAS_DIR): CatalogueEntry[] {
  return entries.filter((e) => {
    const last = releasedVersions(e, root).at(-1);
    return last === undefined || JSON.stringify(last.schema) !== JSON.stringify(e.schema);
  });
}

/** Snapshots changed schemas as their next released version; returns the files written. */
export function release(entries: CatalogueEntry[] = catalogue(), root = SCHEMAS_DIR): string[] {
  const written: string[] = [];
  for (const e of unreleased(entries, root)) {
    const next = (releasedVersions(e, root).at(-1)?.version ?? 0) + 1;
    const dir = releasedDir(e, root);
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `v${next}.avsc`);
    writeFileSync(file, `${JSON.stringify(e.schema, null, 2)}\n`);
    written.push(file);
  }
  return written;
}
