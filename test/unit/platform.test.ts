import { Writable } from 'node:stream';
import { ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { DLQ_HEADERS, deadLetterRecord } from '../../platform/dead-letter.ts';
import { InvalidInputError } from '../../platform/errors.ts';
import { createLogger } from '../../platform/log.ts';
import { extractTraceContext, injectTraceHeaders } from '../../platform/telemetry.ts';
import { loadMigrations, splitStatements } from '../../platform/clickhouse/migrate.ts';
import { MIGRATIONS_DIR } from '../../services/variant-sink/runner.ts';
import { lagOf } from '../../platform/kafka/lag.ts';

describe('logs', () => {
  it('never print patient identifiers, however deep they sit', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = createLogger({ level: 'info', name: 'test', destination: sink });
    log.info({ patientId: 'PT-SECRET-1', batch: { sampleId: 'SM-SECRET-2', record: { key: 'PT-SECRET-3' } }, rows: 12 }, 'inserted');
    await new Promise((r) => setImmediate(r));
    const text = lines.join('');
    expect(text).toContain('"rows":12');
    expect(text).not.toMatch(/SECRET/);
    expect(text).toContain('[redacted]');
  });
});

describe('trace context in Kafka headers', () => {
  it('injects W3C traceparent and extracts the same span context', () => {
    const spanContext = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED };
    const ctx = trace.setSpanContext(ROOT_CONTEXT, spanContext);
    const headers = injectTraceHeaders({}, ctx);
    expect(headers.traceparent).toBe('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    const back = trace.getSpanContext(extractTraceContext({ traceparent: Buffer.from(String(headers.traceparent)) }));
    expect(back?.traceId).toBe(spanContext.traceId);
    expect(back?.spanId).toBe(spanContext.spanId);
  });
});

describe('dead-letter record', () => {
  it('carries reason, stage, source position and error class in value and headers', () => {
    const { value, headers } = deadLetterRecord(
      'variant-sink',
      {
        error: new InvalidInputError('calls[0].pos must be a positive 1-based position'),
        record: { topic: 'genomics.genotype-calls.v1', partition: 4, offset: '1234', key: Buffer.from('PT-1'), value: Buffer.from([0, 0, 0, 0, 1, 2]), headers: { traceparent: 'x' }, timestamp: '0' },
      },
      1_763_800_000_000,
    );
    expect(headers).toEqual({
      [DLQ_HEADERS.reason]: 'InvalidInputError: calls[0].pos must be a positive 1-based position',
      [DLQ_HEADERS.stage]: 'variant-sink',
      [DLQ_HEADERS.errorClass]: 'InvalidInputError',
      [DLQ_HEADERS.topic]: 'genomics.genotype-calls.v1',
      [DLQ_HEADERS.partition]: '4',
      [DLQ_HEADERS.offset]: '1234',
    });
    expect(value).toMatchObject({ stage: 'variant-sink', sourcePartition: 4, sourceOffset: 1234, retriable: false, attempts: 1 });
    expect(value.originalValue).toEqual(Buffer.from([0, 0, 0, 0, 1, 2]));
    expect(value.originalHeaders.traceparent?.toString()).toBe('x');
  });
});

describe('migrations', () => {
  it('split at line-ending semicolons and drop comment lines', () => {
    expect(splitStatements('-- note; with semicolon\nCREATE TABLE a (x String DEFAULT \';\');\n\nCREATE VIEW b AS SELECT 1;\n')).toEqual([
      "CREATE TABLE a (x String DEFAULT ';')",
      'CREATE VIEW b AS SELECT 1',
    ]);
  });

  it('load the sink migrations in order with checksums', () => {
    const migrations = loadMigrations(MIGRATIONS_DIR);
    expect(migrations[0]).toMatchObject({ version: 1, name: 'variant_calls' });
    expect(migrations[0]?.statements).toHaveLength(2);
    expect(migrations[0]?.checksum).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('consumer-group lag', () => {
  const ends = [
    { partition: 0, low: '0', high: '10' },
    { partition: 1, low: '0', high: '0' },
    { partition: 2, low: '5', high: '8' },
  ];
  it('counts records past the committed offset, from the low watermark when nothing is committed', () => {
    expect(lagOf(ends, [{ partition: 0, offset: '7' }, { partition: 2, offset: '-1' }], false)).toBe(3n + 3n);
    expect(lagOf(ends, [{ partition: 0, offset: '10' }, { partition: 2, offset: '8' }], false)).toBe(0n);
  });
  it('does not count the commit marker that ends a transactional partition', () => {
    expect(lagOf(ends, [{ partition: 0, offset: '9' }, { partition: 2, offset: '7' }], true)).toBe(0n);
    expect(lagOf(ends, [{ partition: 0, offset: '9' }, { partition: 2, offset: '7' }], false)).toBe(2n);
    expect(lagOf(ends, [{ partition: 0, offset: '8' }, { partition: 2, offset: '7' }], true)).toBe(1n);
  });
});
