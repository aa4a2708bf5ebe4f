import { randomBytes } from 'node:crypto';
import type { IncomingRecord, KafkaPort } from '../../platform/kafka/port.ts';
import { sleep } from '../../platform/retry.ts';

/** Reads a topic from the beginning through the real consumer port until `count` records arrived. */
export async function collect(kafka: KafkaPort, topic: string, count: number, timeoutMs = 30_000): Promise<IncomingRecord[]> {
  const got: IncomingRecord[] = [];
  const consumer = kafka.consumer({
    groupId: `test-reader-${randomBytes(4).toString('hex')}`,
    topics: [topic],
    fromBeginning: true,
    maxBatchSize: 1000,
    maxBatchMs: 50,
  });
  await consumer.start(async (records) => {
    got.push(...records);
  });
  const deadline = Date.now() + timeoutMs;
  try {
    while (got.length < count && Date.now() < deadline) await sleep(50);
  } finally {
    await consumer.stop();
  }
  return got;
}

export async function waitFor<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await probe();
  while (!done(last)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value ${JSON.stringify(last, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
    await sleep(100);
    last = await probe();
  }
  return last;
}
