import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { deterministicEventId, parseLine, type LineResult } from '../../connectors/events-file/core.ts';
import type { GenotypeCallSet, PgxOutsideCall } from '../../platform/events.ts';

const facts = { sha256: 'a'.repeat(64), sourceId: 'sha256:aaaa', ingestedAt: 1_763_800_000_000, pipelineVersion: '0.1.0' };
const demo = (name: string): string[] => readFileSync(new URL(`../fixtures/events-file/${name}`, import.meta.url), 'utf8').split('\n');

function parseAll(lines: string[], kind: 'genotype-calls' | 'outside-calls'): LineResult[] {
  return lines.map((text, i) => parseLine(text, i + 1, kind, facts)).filter((r): r is LineResult => r !== undefined);
}

describe('events-file connector core', () => {
  it('parses the demo genotype file: 14 events, one broken line with its line number', () => {
    const results = parseAll(demo('genotype-calls.jsonl'), 'genotype-calls');
    const ok = results.filter((r) => r.ok);
    const bad = results.filter((r) => !r.ok);
    expect(ok).toHaveLength(14);
    expect(bad).toHaveLength(1);
    expect(bad[0]?.line).toBe(17);
    const reason = !bad[0]?.ok ? bad[0]?.error.message : '';
    expect(reason).toMatch(/^line 17: not JSON \(syntax error at character \d+\)$/);
    // The parser quotes the text near the error; the reason must not carry the patient id along.
    expect(reason).not.toContain('PT-0015');
  });

  it('fills schema defaults, lineage and a deterministic id', () => {
    const [first] = parseAll(demo('genotype-calls.jsonl'), 'genotype-calls');
    if (!first?.ok) throw new Error('expected an event');
    const event = first.value as GenotypeCallSet;
    expect(first.key).toBe('PT-0001');
    expect(event.eventId).toBe(deterministicEventId(facts.sha256, 3));
    expect(event.lineage).toEqual({
      sourceId: 'run-2026-11-20/pgx-panel/SM-1001',
      sourceSha256: facts.sha256,
      lab: 'Genomics Core Lab',
      ingestedAt: facts.ingestedAt,
      connector: 'events-file',
      pipelineVersion: '0.1.0',
    });
    expect(event.calls[0]?.phaseSet).toBeNull();
    expect(event.calls).toHaveLength(12);
  });

  it('gives the same ids for the same file and line, different ones otherwise', () => {
    expect(deterministicEventId('abc', 5)).toBe(deterministicEventId('abc', 5));
    expect(deterministicEventId('abc', 5)).not.toBe(deterministicEventId('abc', 6));
    expect(deterministicEventId('abc', 5)).not.toBe(deterministicEventId('abd', 5));
  });

  it.each([
    ['[1,2]', /line 1: expected a JSON object/],
    ['{"patientId": "PT-1", "sampleId": "S", "sourceKind": "VCF", "assembly": "GRCh38", "calls": []}', /line 1: calls is empty/],
    ['{"patientId": "PT-1", "sampleId": "S", "calls": [{"chrom": "1", "pos": "12", "ref": "A", "alts": [], "gt": [0,0], "recordRef": "x"}]}', /calls\.0\.pos \(got string\)/],
    ['{"sampleId": "S", "calls": []}', /patientId \(missing\)/],
    ['{"patientId": "  ", "sampleId": "S", "sourceKind": "VCF", "assembly": "GRCh38", "calls": [{"chrom": "1", "pos": 12, "ref": "A", "alts": [], "gt": [0,0], "recordRef": "x"}]}', /patientId is empty/],
  ])('refuses %s with a specific reason', (line, reason) => {
    const result = parseLine(line, 1, 'genotype-calls', facts);
    expect(result?.ok).toBe(false);
    expect(result && !result.ok ? result.error.message : '').toMatch(reason);
  });

  it('names invalid fields by path and kind, never by value', () => {
    const result = parseLine('{"patientId": 12345, "sampleId": "S", "sourceKind": "VCF", "assembly": "GRCh38", "calls": []}', 1, 'genotype-calls', facts);
    const message = result && !result.ok ? result.error.message : '';
    expect(message).toMatch(/patientId \(got number\)/);
    expect(message).not.toContain('12345');
  });

  it('skips blank and comment lines', () => {
    expect(parseLine('   ', 1, 'genotype-calls', facts)).toBeUndefined();
    expect(parseLine('# header', 1, 'genotype-calls', facts)).toBeUndefined();
  });

  it('parses the demo outside calls', () => {
    const results = parseAll(demo('outside-calls.jsonl'), 'outside-calls');
    expect(results.every((r) => r.ok)).toBe(true);
    const values = results.map((r) => (r.ok ? (r.value as PgxOutsideCall) : undefined));
    expect(values.map((v) => `${v?.gene} ${v?.diplotype}`)).toEqual(['CYP2D6 *1/*4', 'HLA-B HLA-B*57:01 positive', 'CYP2D6 *4/*4']);
    expect(values[0]?.confidence).toBe(1);
  });
});
