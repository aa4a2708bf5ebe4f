import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPICS, topicName } from '../../platform/catalogue.ts';
import { queryRows } from '../../platform/clickhouse/client.ts';
import { DLQ_HEADERS } from '../../platform/dead-letter.ts';
import type { DeadLetter } from '../../platform/events.ts';
import { createSerde } from '../../platform/serde.ts';
import { startVariantSink, SINK_STAGE, type SinkHandle } from '../../services/variant-sink/runner.ts';
import { genotypeEvent } from '../support/fixtures.ts';
import { isolatedEnv, type TestEnv } from '../support/env.ts';
import { collect, waitFor } from '../support/kafka.ts';

describe('variant sink with bad records', () => {
  let env: TestEnv;
  let sink: SinkHandle;
  beforeAll(async () => {
    env = await isolatedEnv('dlq', { BACKBONE_SINK_BATCH_MAX_MS: '100' });
    sink = await startVariantSink(env.config, env.log);
  });
  afterAll(async () => {
    await sink.stop();
    await env.close();
  });

  it('dead-letters undecodable and invalid records with their reason, and the stream goes on', async () => {
    const serde = createSerde(env.config);
    const topic = topicName(TOPICS.genotypeCalls, env.config.topicPrefix);
    const good1 = genotypeEvent(1, { patients: 1 });
    const good2 = genotypeEvent(2, { patients: 1 });
    const invalid = genotypeEvent(3, { patients: 1 });
    invalid.calls[1] = { ...invalid.calls[1]!, pos: 0 };
    const producer = await env.kafka.producer();
    // One key, so all four land on one partition in this order: the bad ones sit between good ones.
    await producer.send(topic, [
      { key: good1.patientId, value: await serde.encode(TOPICS.genotypeCalls, good1) },
      { key: good1.patientId, value: Buffer.from('{"not":"avro"}') },
      { key: good1.patientId, value: await serde.encode(TOPICS.genotypeCalls, invalid) },
      { key: good1.patientId, value: await serde.encode(TOPICS.genotypeCalls, good2) },
    ]);
    await producer.close();

    const rows = await waitFor(
      'the good events in ClickHouse',
      () => queryRows<{ event_id: string }>(env.clickhouse, 'SELECT DISTINCT event_id FROM variant_calls_current ORDER BY event_id'),
      (r) => r.length >= 2,
    );
    expect(rows.map((r) => r.event_id).sort()).toEqual([good1.eventId, good2.eventId].sort());

    const dead = await collect(env.kafka, topicName(TOPICS.deadLetter, env.config.topicPrefix), 2);
    expect(dead).toHaveLength(2);
    const byOffset = dead.sort((a, b) => Number(a.headers[DLQ_HEADERS.offset]) - Number(b.headers[DLQ_HEADERS.offset]));
    const [garbage, badPos] = byOffset;
    expect(garbage?.headers[DLQ_HEADERS.reason]?.toString()).toMatch(/magic byte 0/);
    expect(garbage?.headers[DLQ_HEADERS.errorClass]?.toString()).toBe('InvalidInputError');
    expect(garbage?.headers[DLQ_HEADERS.topic]?.toString()).toBe(topic);
    expect(garbage?.headers[DLQ_HEADERS.offset]?.toString()).toBe('1');
    expect(badPos?.headers[DLQ_HEADERS.reason]?.toString()).toMatch(/calls\[1\]\.pos must be a positive/);
    expect(badPos?.headers[DLQ_HEADERS.offset]?.toString()).toBe('2');

    const envelope = await serde.decode<DeadLetter>(TOPICS.deadLetter, garbage?.value ?? null);
    expect(envelope.stage).toBe(SINK_STAGE);
    expect(envelope.sourceOffset).toBe(1);
    expect(envelope.originalValue?.toString()).toBe('{"not":"avro"}');
    expect(envelope.originalKey?.toString()).toBe(good1.patientId);
    expect(sink.stats.deadLettered).toBe(2);
  });
});
