import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCHEMAS_DIR, loadCatalogue } from '../../platform/catalogue.ts';
import { backwardProblem, checkCompatibility, release, unreleased } from '../../platform/schema-compat.ts';

describe('schema compatibility with released versions (the CI gate)', () => {
  it('the committed schemas can read data of every released version', () => {
    expect(checkCompatibility()).toEqual([]);
  });

  it('every committed schema has been released (run `backbone schemas release`)', () => {
    expect(unreleased().map((e) => e.valueSchema)).toEqual([]);
  });

  function scratchCopy(): string {
    const dir = mkdtempSync('/tmp/schemas-');
    cpSync(SCHEMAS_DIR, dir, { recursive: true });
    return dir;
  }

  it('catches a new required field without a default', () => {
    const dir = scratchCopy();
    const file = path.join(dir, 'avro/genotype-call-set.avsc');
    const schema = JSON.parse(JSON.stringify(loadCatalogue(dir)[0]?.schema)) as { fields: object[] };
    schema.fields.push({ name: 'consentVersion', type: 'string', doc: 'required, no default' });
    writeFileSync(file, JSON.stringify(schema));
    const problems = checkCompatibility(loadCatalogue(dir), dir);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ schema: 'avro/genotype-call-set.avsc', version: 'v1' });
    expect(problems[0]?.reason).toMatch(/consentVersion/);
  });

  it('accepts a new optional field with a default, and releases it as v2', () => {
    const dir = scratchCopy();
    const file = path.join(dir, 'avro/genotype-call-set.avsc');
    const schema = JSON.parse(JSON.stringify(loadCatalogue(dir)[0]?.schema)) as { fields: object[] };
    schema.fields.push({ name: 'consentVersion', type: ['null', 'string'], default: null, doc: 'optional' });
    writeFileSync(file, JSON.stringify(schema));
    const entries = loadCatalogue(dir);
    expect(checkCompatibility(entries, dir)).toEqual([]);
    expect(release(entries, dir)).toEqual([path.join(dir, 'released/genotype-call-set/v2.avsc')]);
    expect(unreleased(entries, dir)).toEqual([]);
  });

  it('treats a renamed record as incompatible', () => {
    const a = { type: 'record', name: 'A', fields: [] };
    const b = { type: 'record', name: 'B', fields: [] };
    expect(backwardProblem(b, a)).toMatch(/record name changed from A to B/);
  });
});
