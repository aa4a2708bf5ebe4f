import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPICS, topicName } from '../../platform/catalogue.ts';
import { DLQ_HEADERS } from '../../platform/dead-letter.ts';
import type { GenotypeCallSet, SourceDocumentReceived } from '../../platform/events.ts';
import { createSerde } from '../../platform/serde.ts';
import { publishEventsFile } from '../../connectors/events-file/runner.ts';
import { inMemoryTracing } from '../support/tracing.ts';
import { isolatedEnv, type TestEnv } from '../support/env.ts';
import { collect } from '../support/kafka.ts';

const DEMO = fileURLToPath(new URL('../fixtures/events-file/genotype-calls.jsonl', import.meta.url));

describe('events-file connector on the real stack', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await isolatedEnv('eventsfile');
  });
  afterAll(async () => env.close());

  it('publishes the demo file keyed by patient, dead-letters the broken line, announces the document', async () => {
    const tracingOn = inMemoryTracing();
    const summary = await publishEventsFile(env.config, env.log, env.kafka, DEMO, 'genotype-calls');
    const publishSpan = tracingOn.exporter.getFinishedSpans().find((s) => s.name.endsWith('publish'));
    await tracingOn.stop();
    expect(summary).toMatchObject({ events: 14, deadLettered: 1 });

    const serde = createSerde(env.config);
    const records = await collect(env.kafka, topicName(TOPICS.genotypeCalls, env.config.topicPrefix), 14);
    expect(records).toHaveLength(14);
    const events = await Promise.all(records.map((r) => serde.decode<GenotypeCallSet>(TOPICS.genotypeCalls, r.value)));
    for (const [i, e] of events.entries()) {
      expect(records[i]?.key?.toString()).toBe(e.patientId);
      expect(e.lineage.sourceSha256).toBe(summary.sha256);
      expect(e.lineage.connector).toBe('events-file');
    }
    const poor = events.find((e) => e.patientId === 'PT-0003');
    expect(poor?.calls.find((c) => c.variantId === 'rs4244285')?.gt).toEqual([1, 1]);
    // W3C trace context travels with every event, in the publishing span's trace.
    const traceId = publishSpan?.spanContext().traceId;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    for (const r of records) expect(String(r.headers.traceparent)).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));

    const [dead] = await collect(env.kafka, topicName(TOPICS.deadLetter, env.config.topicPrefix), 1);
    expect(dead?.headers[DLQ_HEADERS.reason]?.toString()).toMatch(/^InvalidInputError: line 17: not JSON/);

    const [doc] = await collect(env.kafka, topicName(TOPICS.sourceDocuments, env.config.topicPrefix), 1);
    const announced = await serde.decode<SourceDocumentReceived>(TOPICS.sourceDocuments, doc?.value ?? null);
    expect(announced).toMatchObject({ sha256: summary.sha256, eventCount: 14, deadLettered: 1, fileName: 'genotype-calls.jsonl' });
  });

  it('gives the same event ids when the same file is sent again', async () => {
    const serde = createSerde(env.config);
    const topic = topicName(TOPICS.genotypeCalls, env.config.topicPrefix);
    await publishEventsFile(env.config, env.log, env.kafka, DEMO, 'genotype-calls');
    const all = await collect(env.kafka, topic, 28);
    const ids = await Promise.all(all.map(async (r) => (await serde.decode<GenotypeCallSet>(TOPICS.genotypeCalls, r.value)).eventId));
    expect(ids).toHaveLength(28);
    expect(new Set(ids).size).toBe(14);
  });
});
