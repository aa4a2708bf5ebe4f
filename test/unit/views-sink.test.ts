import { describe, expect, it } from 'vitest';
import { alertEvent, profileEvent } from '../../bench/poc-events.ts';
import { createBatchSink, positionsToken } from '../../platform/clickhouse/sink.ts';
import type { DeadLetterInput } from '../../platform/dead-letter.ts';
import { DependencyError, InvalidInputError } from '../../platform/errors.ts';
import type { IncomingRecord } from '../../platform/kafka/port.ts';
import { createLogger } from '../../platform/log.ts';
import { ALERT_TABLE, classify, parseProfileKey, PROFILE_TABLE, toViewRows, type ViewEvent, type ViewRow } from '../../services/views-sink/core.ts';

const meta = { topic: 'pgx.profiles.v1', partition: 3, offset: '12', timestamp: 1_763_800_000_123 };
const log = createLogger({ level: 'silent', name: 'test' });

describe('views sink core', () => {
  it('maps a profile to a row with lineage and Kafka position', () => {
    const p = profileEvent('PT-1', 'CYP2C19', { diplotype: '*2/*2', phenotype: 'Poor Metabolizer' }, { computedAt: 1_763_700_000_000, lab: 'Lab A', sourceId: 'r/1' });
    const [tables] = [toViewRows({ kind: 'profile', profile: p }, meta)];
    expect(tables).toEqual([{ table: PROFILE_TABLE, rows: [expect.objectContaining({
      patient_id: 'PT-1', gene: 'CYP2C19', status: 'CALLED', diplotype: '*2/*2', phenotype: 'Poor Metabolizer',
      source_ids: ['r/1'], labs: ['Lab A'], kb_version: 'cpic-2025.1', pipeline_version: '0.2.0',
      computed_at: '1763700000.000', published_at: '1763800000.123', kafka_partition: 3, kafka_offset: '12', is_deleted: 0,
    })] }]);
  });

  it('gives no diplotype for an ambiguous call and a deleted row for a tombstone', () => {
    const ambiguous = profileEvent('PT-1', 'CYP2D6', { diplotype: '*1/*4', phenotype: null, status: 'AMBIGUOUS' });
    expect((toViewRows({ kind: 'profile', profile: ambiguous }, meta)[0]?.rows[0] as { diplotype: unknown }).diplotype).toBeNull();
    const [t] = toViewRows({ kind: 'profile-deleted', patientId: 'PT-1', gene: 'CYP2C19' }, meta);
    expect(t?.rows[0]).toMatchObject({ patient_id: 'PT-1', gene: 'CYP2C19', is_deleted: 1 });
  });

  it('maps an alert with its supersession and CPIC fields', () => {
    const a = alertEvent('PT-1', 'ACTIVE', { supersedes: 'abc' });
    const [t] = toViewRows({ kind: 'alert', alert: a }, { ...meta, topic: 'pgx.alerts.v1' });
    expect(t?.table).toBe(ALERT_TABLE);
    expect(t?.rows[0]).toMatchObject({ alert_id: a.alertId, supersedes_alert_id: 'abc', classification: 'Strong', phenotypes: { CYP2C19: 'Poor Metabolizer' } });
  });

  it('parses profile keys and tells tombstones from events', () => {
    expect(parseProfileKey('PT|1|CYP2C19')).toEqual({ patientId: 'PT|1', gene: 'CYP2C19' });
    expect(() => parseProfileKey('PT-1')).toThrow(/patientId\|gene/);
    expect(classify('pgx.profiles.v1', Buffer.from('P|G'), null)).toBe('profile-deleted');
    expect(classify('pgx.alerts.v1', Buffer.from('P'), Buffer.from('x'))).toBe('alert');
    expect(() => classify('other', null, null)).toThrow(/does not read topic other/);
  });
});

describe('generic sink over two tables', () => {
  const rec = (topic: string, offset: number, value: string): IncomingRecord => ({ topic, partition: 0, offset: String(offset), key: Buffer.from('k|G'), value: Buffer.from(value), headers: {}, timestamp: '1763800000000' });

  function harness(insert: (table: string, rows: ViewRow[]) => void) {
    const inserted: { table: string; rows: ViewRow[]; token: string }[] = [];
    const dead: DeadLetterInput[] = [];
    const process = createBatchSink<ViewEvent, ViewRow>({
      decode: async (r) => {
        const v = r.value?.toString() ?? '';
        if (v === 'garbage') throw new InvalidInputError('value does not start with the Confluent magic byte 0');
        return r.topic === 'pgx.alerts.v1' ? { kind: 'alert', alert: alertEvent(`P${v}`) } : { kind: 'profile', profile: profileEvent(`P${v}`, 'CYP2C19', { diplotype: '*1/*1', phenotype: 'Normal Metabolizer' }) };
      },
      toRows: toViewRows,
      insert: async (table, rows, token) => {
        insert(table, rows);
        inserted.push({ table, rows, token });
      },
      deadLetter: async (d) => void dead.push(...d),
      log,
      retry: { attempts: 2, initialDelayMs: 1, maxDelayMs: 1 },
    });
    return { process, inserted, dead };
  }

  it('inserts each table once per batch with a token from the records, the same on redelivery', async () => {
    const h = harness(() => {});
    const batch = [rec('pgx.profiles.v1', 0, '1'), rec('pgx.alerts.v1', 0, '1'), rec('pgx.profiles.v1', 1, 'garbage'), rec('pgx.profiles.v1', 2, '2')];
    expect(await h.process(batch)).toEqual({ records: 4, rows: 3, deadLettered: 1 });
    await h.process(batch);
    expect(h.inserted.map((i) => [i.table, i.rows.length])).toEqual([[PROFILE_TABLE, 2], [ALERT_TABLE, 1], [PROFILE_TABLE, 2], [ALERT_TABLE, 1]]);
    expect(h.inserted[0]?.token).toBe(h.inserted[2]?.token);
    expect(h.inserted[0]?.token).toBe(positionsToken(PROFILE_TABLE, [batch[0]!, batch[3]!], 2));
    expect(h.dead.map((d) => d.record?.offset)).toEqual(['1', '1']); // once per delivery of the batch
  });

  it('isolates the record a table refuses and dead-letters it; the rest is stored', async () => {
    const h = harness((table, rows) => {
      if (table === ALERT_TABLE && rows.some((r) => r.patient_id === 'P3')) throw new InvalidInputError('CANNOT_PARSE_TEXT');
    });
    const batch = [1, 2, 3, 4].map((n) => rec('pgx.alerts.v1', n, String(n)));
    const outcome = await h.process(batch);
    expect(outcome.deadLettered).toBe(1);
    expect(h.dead[0]?.record?.offset).toBe('3');
    expect(new Set(h.inserted.flatMap((i) => i.rows.map((r) => r.patient_id)))).toEqual(new Set(['P1', 'P2', 'P4']));
  });

  it('rejects the whole batch after retries when ClickHouse is down, so nothing is skipped', async () => {
    let calls = 0;
    const h = harness(() => {
      calls++;
      throw new DependencyError('clickhouse', 'ECONNREFUSED');
    });
    await expect(h.process([rec('pgx.alerts.v1', 0, '1')])).rejects.toThrow(/clickhouse insert: gave up after 2 attempts/);
    expect(calls).toBe(2);
    expect(h.dead).toEqual([]);
  });
});
