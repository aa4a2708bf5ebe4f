import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPICS, topicName } from '../../platform/catalogue.ts';
import { queryRows } from '../../platform/clickhouse/client.ts';
import { sinkGroupId } from '../../platform/clickhouse/sink.ts';
import { DLQ_HEADERS } from '../../platform/dead-letter.ts';
import type { OutgoingRecord } from '../../platform/kafka/port.ts';
import { createSerde } from '../../platform/serde.ts';
import { startViewsSink, VIEWS_STAGE, type SinkHandle } from '../../services/views-sink/runner.ts';
import { waitForLag } from '../../platform/kafka/lag.ts';
import { alertEvent, profileEvent } from '../../bench/poc-events.ts';
import { isolatedEnv, type TestEnv } from '../support/env.ts';
import { collect, waitFor } from '../support/kafka.ts';

describe('views sink: PGx profiles, alerts and cohort counts in ClickHouse', () => {
  let env: TestEnv;
  let sink: SinkHandle | undefined;
  beforeAll(async () => {
    env = await isolatedEnv('views', { BACKBONE_SINK_BATCH_MAX_MS: '100' });
  });
  afterAll(async () => {
    await sink?.stop();
    await env.close();
  });

  it('keeps current profiles, alert states and counts, with lineage, and redelivery changes nothing', async () => {
    const serde = createSerde(env.config);
    const profiles = topicName(TOPICS.profiles, env.config.topicPrefix);
    const alerts = topicName(TOPICS.alerts, env.config.topicPrefix);
    const p1 = profileEvent('PT-V1', 'CYP2C19', { diplotype: '*2/*2', phenotype: 'Poor Metabolizer' }, { lab: 'Lab A', sourceId: 'reports/a.pdf' });
    const p2old = profileEvent('PT-V2', 'CYP2C19', { diplotype: '*1/*1', phenotype: 'Normal Metabolizer' });
    const p2new = profileEvent('PT-V2', 'CYP2C19', { diplotype: '*1/*2', phenotype: 'Intermediate Metabolizer' });
    const p3 = profileEvent('PT-V3', 'CYP2C19', { diplotype: '*1/*1', phenotype: 'Normal Metabolizer' });
    const p4 = profileEvent('PT-V4', 'CYP2C19', { diplotype: null, phenotype: null });
    const a1 = alertEvent('PT-V1', 'ACTIVE', { profileIds: [p1.profileId] });
    const a1b = alertEvent('PT-V1', 'ACTIVE', { supersedes: a1.alertId, variant: 'amended', profileIds: [p1.profileId], recommendation: 'Use prasugrel or ticagrelor.' });
    // The same drug for another CPIC population is a separate alert: it neither supersedes nor is superseded.
    const a1acs = { ...alertEvent('PT-V1', 'ACTIVE', { variant: 'acs', profileIds: [p1.profileId] }), population: 'CVI ACS PCI' };
    const a2 = alertEvent('PT-V2', 'ACTIVE', { profileIds: [p2new.profileId] });
    const a2w = alertEvent('PT-V2', 'WITHDRAWN', { supersedes: a2.alertId });
    const rec = async (topic: string, key: string, value: object): Promise<OutgoingRecord> => ({ key, value: await serde.encode(topic, value) });
    const producer = await env.kafka.producer();
    await producer.send(profiles, [
      await rec(TOPICS.profiles, 'PT-V1|CYP2C19', p1),
      await rec(TOPICS.profiles, 'PT-V2|CYP2C19', p2old),
      await rec(TOPICS.profiles, 'PT-V2|CYP2C19', p2new),
      await rec(TOPICS.profiles, 'PT-V3|CYP2C19', p3),
      await rec(TOPICS.profiles, 'PT-V4|CYP2C19', p4),
      { key: 'PT-V3|CYP2C19', value: null }, // consent withdrawn: tombstone
    ]);
    await producer.send(alerts, [
      await rec(TOPICS.alerts, 'PT-V1', a1),
      await rec(TOPICS.alerts, 'PT-V1', a1acs),
      await rec(TOPICS.alerts, 'PT-V1', a1b),
      await rec(TOPICS.alerts, 'PT-V2', a2),
      { key: 'PT-V2', value: Buffer.from('not avro') },
      await rec(TOPICS.alerts, 'PT-V2', a2w),
    ]);
    await producer.close();

    sink = await startViewsSink(env.config, env.log);
    const group = sinkGroupId(env.config, VIEWS_STAGE);
    await waitForLag(env.kafka, group, profiles, 60_000);
    await waitForLag(env.kafka, group, alerts, 60_000);

    const snapshot = async () => ({
      profiles: await queryRows<Record<string, unknown>>(
        env.clickhouse,
        'SELECT patient_id, gene, status, diplotype, phenotype, source_ids, labs, kb_version, pipeline_version FROM pgx_profiles ORDER BY patient_id',
      ),
      alerts: await queryRows<Record<string, unknown>>(
        env.clickhouse,
        'SELECT patient_id, alert_id, status, state, superseded_by, source_ids, labs, kb_version FROM pgx_alerts ORDER BY patient_id, kafka_offset',
      ),
      counts: await queryRows<Record<string, unknown>>(
        env.clickhouse,
        "SELECT gene, status, phenotype, diplotype, toUInt32(patients) AS patients FROM pgx_cohort_counts WHERE gene = 'CYP2C19' ORDER BY status, phenotype",
      ),
    });
    const first = await snapshot();
    expect(first.profiles).toEqual([
      {
        patient_id: 'PT-V1', gene: 'CYP2C19', status: 'CALLED', diplotype: '*2/*2', phenotype: 'Poor Metabolizer',
        source_ids: ['reports/a.pdf'], labs: ['Lab A'], kb_version: 'cpic-2025.1', pipeline_version: '0.2.0',
      },
      expect.objectContaining({ patient_id: 'PT-V2', diplotype: '*1/*2', phenotype: 'Intermediate Metabolizer' }),
      expect.objectContaining({ patient_id: 'PT-V4', status: 'NOT_CALLED', diplotype: null, phenotype: null }),
    ]);
    expect(first.alerts).toEqual([
      { patient_id: 'PT-V1', alert_id: a1.alertId, status: 'ACTIVE', state: 'superseded', superseded_by: a1b.alertId, source_ids: ['reports/a.pdf'], labs: ['Lab A'], kb_version: 'cpic-2025.1' },
      expect.objectContaining({ patient_id: 'PT-V1', alert_id: a1acs.alertId, state: 'active', superseded_by: null }),
      expect.objectContaining({ patient_id: 'PT-V1', alert_id: a1b.alertId, state: 'active', superseded_by: null }),
      expect.objectContaining({ patient_id: 'PT-V2', alert_id: a2.alertId, state: 'withdrawn', superseded_by: a2w.alertId }),
      expect.objectContaining({ patient_id: 'PT-V2', alert_id: a2w.alertId, status: 'WITHDRAWN', state: 'withdrawn' }),
    ]);
    // PT-V3 withdrew consent (tombstone) and PT-V2 changed phenotype: both counted as they are now.
    expect(first.counts).toEqual([
      { gene: 'CYP2C19', status: 'CALLED', phenotype: 'Intermediate Metabolizer', diplotype: '*1/*2', patients: 1 },
      { gene: 'CYP2C19', status: 'CALLED', phenotype: 'Poor Metabolizer', diplotype: '*2/*2', patients: 1 },
      { gene: 'CYP2C19', status: 'NOT_CALLED', phenotype: null, diplotype: null, patients: 1 },
    ]);

    // The undecodable alert went to the dead-letter topic with its reason.
    const dead = await collect(env.kafka, topicName(TOPICS.deadLetter, env.config.topicPrefix), 1);
    expect(dead).toHaveLength(1);
    expect(dead[0]?.headers[DLQ_HEADERS.stage]?.toString()).toBe(VIEWS_STAGE);
    expect(dead[0]?.headers[DLQ_HEADERS.reason]?.toString()).toMatch(/magic byte 0/);
    expect(sink.stats.deadLettered).toBe(1);

    // Redelivery: forget the committed offsets and read everything again, in other batches.
    await sink.stop();
    sink = undefined;
    const admin = await env.kafka.admin();
    await admin.deleteGroups([group]);
    await admin.close();
    sink = await startViewsSink(env.config, env.log);
    await waitFor('the sink to re-read everything', async () => sink?.stats.records ?? 0, (n) => n >= 11, 60_000);
    await waitForLag(env.kafka, group, alerts, 60_000);
    expect(await snapshot()).toEqual(first);
    const [raw] = await queryRows<{ n: string }>(env.clickhouse, 'SELECT count() AS n FROM pgx_profile_versions');
    expect(Number(raw?.n)).toBeGreaterThanOrEqual(6); // duplicates may sit in storage until merged, never in the views
  });
});
