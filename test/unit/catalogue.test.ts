import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import avro from 'avsc';
import { catalogue, catalogueMarkdown, loadCatalogue, topicName, valueSubject } from '../../platform/catalogue.ts';
import { README, TABLE_END, TABLE_START, readmeWithTable } from '../../cli/schemas.ts';

type Field = { name: string; type: unknown; doc?: string };

/** Every named record inside a schema, nested ones included. */
function records(schema: unknown, out: { name: string; fields: Field[]; doc?: string }[] = []): typeof out {
  if (Array.isArray(schema)) schema.forEach((s) => records(s, out));
  else if (typeof schema === 'object' && schema !== null) {
    const s = schema as { type?: unknown; fields?: Field[]; items?: unknown; values?: unknown; name?: string; doc?: string };
    if (s.type === 'record' && s.fields) {
      out.push({ name: s.name ?? '?', fields: s.fields, ...(s.doc === undefined ? {} : { doc: s.doc }) });
      s.fields.forEach((f) => records(f.type, out));
    }
    records(s.type, out);
    records(s.items, out);
    records(s.values, out);
  }
  return out;
}

describe('topic catalogue', () => {
  it('declares the first events with namespaced, documented schemas', () => {
    const entries = catalogue();
    expect(entries.map((e) => e.name)).toEqual([
      'genomics.genotype-calls.v1',
      'genomics.variant-blocks.v1',
      'pgx.outside-calls.v1',
      'ops.source-documents.v1',
      'ops.dead-letter.v1',
      'pgx.profiles.v1',
      'pgx.alerts.v1',
      'pgx.patient-state.v1',
      'ops.audit.v1',
    ]);
    for (const e of entries) {
      expect(e.schema.namespace, e.name).toMatch(/^backbone\.[a-z]+\.v\d+$/);
      for (const record of records(e.schema)) {
        expect(record.doc, `${e.name} ${record.name}`).toBeTruthy();
        for (const field of record.fields) expect(field.doc, `${e.name} ${record.name}.${field.name}`).toBeTruthy();
      }
    }
  });

  it('uses the timestamp-millis logical type for every instant', () => {
    for (const e of catalogue()) {
      for (const record of records(e.schema)) {
        for (const f of record.fields.filter((x) => /At$/.test(x.name))) {
          expect(JSON.stringify(f.type), `${record.name}.${f.name}`).toContain('"logicalType":"timestamp-millis"');
        }
      }
    }
  });

  it('keys patient events by patient so one patient stays ordered', () => {
    const byName = new Map(catalogue().map((e) => [e.name, e]));
    expect(byName.get('genomics.genotype-calls.v1')?.key).toBe('patientId');
    expect(byName.get('pgx.outside-calls.v1')?.key).toBe('patientId');
    expect(byName.get('pgx.alerts.v1')?.key).toBe('patientId');
    expect(byName.get('pgx.profiles.v1')?.cleanupPolicy).toBe('compact');
    expect(byName.get('pgx.patient-state.v1')?.cleanupPolicy).toBe('compact');
  });

  it('names subjects by TopicNameStrategy with the environment prefix', () => {
    expect(valueSubject(topicName('genomics.genotype-calls.v1', 'site-a.'))).toBe('site-a.genomics.genotype-calls.v1-value');
  });

  it('rejects a malformed catalogue with a specific message', async () => {
    const { mkdtempSync, writeFileSync, mkdirSync, copyFileSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/catalogue-');
    mkdirSync(`${dir}/avro`);
    copyFileSync(new URL('../../schemas/avro/dead-letter.avsc', import.meta.url), `${dir}/avro/dead-letter.avsc`);
    const base = { name: 'x.y', doc: 'd', key: 'k', keyDoc: 'k', valueSchema: 'avro/dead-letter.avsc', partitions: 1, cleanupPolicy: 'delete', retentionMs: -1 };
    writeFileSync(`${dir}/catalogue.json`, JSON.stringify({ topics: [{ ...base, cleanupPolicy: 'forever' }] }));
    expect(() => loadCatalogue(dir)).toThrow('schemas/catalogue.json: topics[0].cleanupPolicy must be delete or compact');
    writeFileSync(`${dir}/catalogue.json`, JSON.stringify({ topics: [base, base] }));
    expect(() => loadCatalogue(dir)).toThrow('topic x.y declared twice');
    writeFileSync(`${dir}/catalogue.json`, JSON.stringify({ topics: [{ ...base, replicas: 3 }] }));
    expect(() => loadCatalogue(dir)).toThrow("topics[0] has unknown field 'replicas'");
  });

  it('is what README documents (regenerate with `backbone schemas docs --write`)', () => {
    const readme = readFileSync(README, 'utf8');
    expect(readme).toContain(TABLE_START);
    expect(readme).toContain(TABLE_END);
    expect(readmeWithTable(readme, catalogueMarkdown())).toBe(readme);
  });

  it('every schema compiles, its defaults are valid, and its record name is the one Avro resolves', () => {
    for (const e of catalogue()) {
      const type = avro.Type.forSchema(e.schema as avro.Schema);
      expect(e.recordName, e.name).toBe(type.name);
    }
    // Names already qualified, and names without a namespace, resolve as Avro resolves them.
    const dir = mkdtempSync(path.join(tmpdir(), 'backbone-catalogue-'));
    try {
      mkdirSync(path.join(dir, 'avro'));
      const schemas = [
        { type: 'record', name: 'other.ns.Thing', namespace: 'ignored', fields: [] },
        { type: 'record', name: 'Bare', fields: [] },
        { type: 'record', name: 'Plain', namespace: 'a.b', fields: [] },
      ];
      schemas.forEach((schema, i) => writeFileSync(path.join(dir, 'avro', `s${i}.avsc`), JSON.stringify(schema)));
      const topics = schemas.map((_, i) => ({ name: `t${i}.v1`, doc: 'd', key: 'k', keyDoc: 'k', valueSchema: `avro/s${i}.avsc`, partitions: 1, cleanupPolicy: 'delete', retentionMs: -1 }));
      writeFileSync(path.join(dir, 'catalogue.json'), JSON.stringify({ topics }));
      expect(loadCatalogue(dir).map((e) => e.recordName)).toEqual(schemas.map((x) => avro.Type.forSchema(x as avro.Schema).name));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
