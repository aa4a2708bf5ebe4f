import { describe, expect, it } from 'vitest';
import { DependencyError, InvalidInputError } from '../../platform/errors.ts';
import type { DeadLetterInput } from '../../platform/dead-letter.ts';
import type { IncomingRecord } from '../../platform/kafka/port.ts';
import { createLogger } from '../../platform/log.ts';
import type { VariantBlock } from '../../platform/events.ts';
import { blockRows, dedupToken, toRows, zygosity, type VariantCallRow } from '../../services/variant-sink/core.ts';
import { createSinkProcessor } from '../../services/variant-sink/processor.ts';
import { genotypeEvent } from '../support/fixtures.ts';

const meta = { topic: 'genomics.genotype-calls.v1', partition: 2, offset: '41', timestamp: 1_763_800_000_123 };

describe('variant sink core', () => {
  it.each([
    [[0, 0], 'hom_ref'],
    [[0, 1], 'het'],
    [[1, 2], 'het'],
    [[2, 2], 'hom_alt'],
    [[null, null], 'no_call'],
    [[0, null], 'partial'],
    [[0], 'hemi_ref'],
    [[1], 'hemi_alt'],
    [[null], 'no_call'],
  ] as const)('zygosity of %j is %s', (gt, expected) => {
    expect(zygosity([...gt])).toBe(expected);
  });

  it('maps every call of an event to a row with lineage and Kafka position', () => {
    const event = genotypeEvent(5, { calls: 3 });
    const rows = toRows(event, meta);
    expect(rows).toHaveLength(3);
    expect(rows.map((r) => r.call_index)).toEqual([0, 1, 2]);
    expect(rows[0]).toMatchObject({
      event_id: event.eventId,
      patient_id: event.patientId,
      chrom: event.calls[0]?.chrom,
      pos: event.calls[0]?.pos,
      gene: event.calls[0]?.gene,
      source_sha256: event.lineage.sourceSha256,
      lab: 'Genomics Core Lab',
      pipeline_version: '0.1.0',
      kafka_partition: 2,
      kafka_offset: '41',
      published_at: '1763800000.123',
      ingested_at: '1795165200.000',
    });
  });

  it.each([
    [{ chrom: 'chr10' }, /calls\[0\]\.chrom 'chr10' is not 1-22, X, Y or MT/],
    [{ pos: 0 }, /calls\[0\]\.pos must be a positive 1-based position/],
    [{ gt: [] }, /calls\[0\]\.gt is empty/],
    [{ gt: [0, 2] }, /calls\[0\]\.gt allele index 2 is outside 0\.\.1/],
  ])('refuses %j with a specific reason', (patch, reason) => {
    const event = genotypeEvent(1, { calls: 1 });
    event.calls[0] = { ...event.calls[0]!, ...patch };
    expect(() => toRows(event, meta)).toThrow(reason);
  });

  it('refuses an event without calls', () => {
    expect(() => toRows({ ...genotypeEvent(1), calls: [] }, meta)).toThrow('genotype event has no calls');
  });

  it('maps a variant block to one row per call, each with its own sample and the shared site', () => {
    const event = genotypeEvent(2);
    const block: VariantBlock = {
      eventId: 'b'.repeat(32),
      sourceKind: 'VCF',
      assembly: 'GRCh38',
      chrom: '7',
      samples: [
        { column: 0, patientId: 'PT-A', sampleId: 'SM-A' },
        { column: 3, patientId: 'PT-B', sampleId: 'SM-B' },
      ],
      sites: [
        { pos: 1000, ref: 'A', alts: ['G', 'T'], quality: 50.5, filters: ['PASS'], variantId: 'rs1', recordRef: '40', calls: [
          { column: 0, gt: [0, 2], phased: true, phaseSet: 900, depth: 30, genotypeQuality: 99 },
          { column: 3, gt: [1, 1], phased: false, phaseSet: null, depth: null, genotypeQuality: null },
        ] },
        { pos: 1200, ref: 'C', alts: ['CT'], quality: null, filters: [], variantId: null, recordRef: '41', calls: [
          { column: 3, gt: [1], phased: false, phaseSet: null, depth: 8, genotypeQuality: 20 },
        ] },
      ],
      lineage: event.lineage,
    };
    const rows = blockRows(block, { ...meta, topic: 'genomics.variant-blocks.v1' });
    expect(rows.map((r) => [r.call_index, r.patient_id, r.sample_id, r.chrom, r.pos, r.zygosity, r.record_ref])).toEqual([
      [0, 'PT-A', 'SM-A', '7', 1000, 'het', '40'],
      [1, 'PT-B', 'SM-B', '7', 1000, 'hom_alt', '40'],
      [2, 'PT-B', 'SM-B', '7', 1200, 'hemi_alt', '41'],
    ]);
    expect(rows[0]).toMatchObject({ event_id: block.eventId, alts: ['G', 'T'], quality: 50.5, filters: ['PASS'], variant_id: 'rs1', phase_set: 900, depth: 30, gene: null, source_kind: 'VCF' });
    const orphan = structuredClone(block);
    orphan.sites[1]!.calls[0]!.column = 5;
    expect(() => blockRows(orphan, meta)).toThrow(/sample column 5, which the block does not list/);
    const wrongAllele = structuredClone(block);
    wrongAllele.sites[1]!.calls[0]!.gt = [2];
    expect(() => blockRows(wrongAllele, meta)).toThrow(/gt allele index 2 is outside 0\.\.1/);
    expect(() => blockRows({ ...block, sites: [] }, meta)).toThrow('variant block has no sites');
  });

  it('derives the same dedup token for the same records, a different one otherwise', () => {
    const rows = toRows(genotypeEvent(1), meta);
    expect(dedupToken(rows)).toBe(dedupToken(toRows(genotypeEvent(1), meta)));
    expect(dedupToken(rows)).not.toBe(dedupToken(toRows(genotypeEvent(1), { ...meta, offset: '42' })));
    expect(dedupToken(rows)).toMatch(/^[0-9a-f]{64}$/);
  });
});

function record(offset: number, value: string): IncomingRecord {
  return { topic: meta.topic, partition: 0, offset: String(offset), key: Buffer.from('PT-1'), value: Buffer.from(value), headers: {}, timestamp: '1763800000000' };
}

describe('variant sink batch step', () => {
  const log = createLogger({ level: 'silent', name: 'test' });
  const noRetry = { attempts: 1, initialDelayMs: 1, maxDelayMs: 1 };

  function harness(insert: (rows: VariantCallRow[]) => Promise<void>) {
    const inserted: VariantCallRow[][] = [];
    const dead: DeadLetterInput[] = [];
    const process = createSinkProcessor({
      // The "value" of these records is the event number; 'garbage' cannot be decoded.
      decode: async (r) => {
        const text = r.value?.toString() ?? '';
        if (text === 'garbage') throw new InvalidInputError('value does not start with the Confluent magic byte 0');
        return genotypeEvent(Number(text), { calls: 2 });
      },
      insert: async (rows) => {
        await insert(rows);
        inserted.push(rows);
      },
      deadLetter: async (inputs) => {
        dead.push(...inputs);
      },
      log,
      retry: noRetry,
    });
    return { process, inserted, dead };
  }

  it('dead-letters an undecodable record and inserts the rest', async () => {
    const h = harness(async () => {});
    const outcome = await h.process([record(0, '1'), record(1, 'garbage'), record(2, '2')]);
    expect(outcome).toEqual({ records: 3, rows: 4, deadLettered: 1 });
    expect(h.inserted.flat().map((r) => r.kafka_offset)).toEqual(['0', '0', '2', '2']);
    expect(h.dead[0]?.record?.offset).toBe('1');
  });

  it('isolates a record ClickHouse refuses, by halving the batch', async () => {
    const bad = genotypeEvent(3, { calls: 2 }).eventId;
    const h = harness(async (rows) => {
      if (rows.some((r) => r.event_id === bad)) throw new InvalidInputError('CANNOT_PARSE_TEXT');
    });
    const outcome = await h.process([0, 1, 2, 3, 4, 5].map((n) => record(n, String(n))));
    expect(outcome.deadLettered).toBe(1);
    expect(h.dead[0]?.record?.offset).toBe('3');
    const stored = new Set(h.inserted.flat().map((r) => r.kafka_offset));
    expect([...stored].sort()).toEqual(['0', '1', '2', '4', '5']);
  });

  it('fails the whole batch (so it is re-read, never skipped) when ClickHouse is down', async () => {
    const h = harness(async () => {
      throw new DependencyError('clickhouse', 'ECONNREFUSED');
    });
    await expect(h.process([record(0, '1')])).rejects.toThrow(/clickhouse insert: gave up after 1 attempts/);
    expect(h.dead).toEqual([]);
  });

  it('produces identical inserts when the same batch is redelivered', async () => {
    const tokens: string[] = [];
    const h = harness(async (rows) => {
      tokens.push(dedupToken(rows));
    });
    const batch = [record(0, '1'), record(1, '2')];
    await h.process(batch);
    await h.process(batch);
    expect(tokens).toHaveLength(2);
    expect(tokens[0]).toBe(tokens[1]);
    expect(h.inserted[0]).toEqual(h.inserted[1]);
  });
});
