import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncomingRecord } from '../../platform/kafka/port.ts';
import { sleep } from '../../platform/retry.ts';
import { isolatedEnv, type TestEnv } from '../support/env.ts';

describe('batching consumer', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await isolatedEnv('batching');
  });
  afterAll(async () => env.close());

  it('bounds a batch by bytes as well as by records, and hands over every record once, in order', async () => {
    const topic = `${env.config.topicPrefix}batching-${randomBytes(3).toString('hex')}`;
    const admin = await env.kafka.admin();
    await admin.ensureTopics([{ name: topic, partitions: 1, cleanupPolicy: 'delete', retentionMs: -1 }]);
    await admin.close();
    // 60 records of 40 KiB (like genotype events of a large VCF): 2.4 MiB in all.
    const producer = await env.kafka.producer();
    const values = Array.from({ length: 60 }, (_, i) => Buffer.alloc(40 * 1024, i));
    await producer.send(topic, values.map((value, i) => ({ key: `k${i}`, value })));
    await producer.close();

    const batches: IncomingRecord[][] = [];
    const consumer = env.kafka.consumer({ groupId: `${topic}-reader`, topics: [topic], fromBeginning: true, maxBatchSize: 10_000, maxBatchBytes: 256 * 1024, maxBatchMs: 5_000 });
    await consumer.start(async (records) => {
      batches.push(records);
    });
    const deadline = Date.now() + 30_000;
    while (batches.flat().length < values.length && Date.now() < deadline) await sleep(50);
    await consumer.stop();

    const all = batches.flat();
    expect(all.map((r) => r.key?.toString())).toEqual(values.map((_, i) => `k${i}`));
    // Flushed as soon as the bound is reached: at most one record over it, not by age (5 s).
    for (const batch of batches) expect(batch.reduce((n, r) => n + (r.value?.length ?? 0), 0)).toBeLessThanOrEqual(256 * 1024 + 40 * 1024);
    expect(batches.length).toBeGreaterThanOrEqual(Math.ceil((values.length * 40) / (256 + 40)));
  });
});
