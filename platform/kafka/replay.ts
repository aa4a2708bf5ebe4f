/**
 * Reads a topic from its beginning up to the end it had when the call started — how a processor
 * rebuilds its state from a compacted changelog before it consumes new input.
 */
import { randomUUID } from 'node:crypto';
import { sleep } from '../retry.ts';
import type { IncomingRecord, KafkaPort } from './port.ts';

export async function replayTopic(
  kafka: KafkaPort,
  topic: string,
  onRecords: (records: IncomingRecord[]) => void | Promise<void>,
  options: { timeoutMs?: number } = {},
): Promise<number> {
  const admin = await kafka.admin();
  const groupId = `replay-${randomUUID()}`;
  try {
    const ends = (await admin.topicOffsets(topic)).filter((p) => BigInt(p.high) > BigInt(p.low));
    if (ends.length === 0) return 0;
    const remaining = new Map(ends.map((p) => [p.partition, BigInt(p.high) - 1n]));
    let count = 0;
    const consumer = kafka.consumer({ groupId, topics: [topic], fromBeginning: true, maxBatchSize: 5_000, maxBatchMs: 20 });
    await consumer.start(async (records) => {
      await onRecords(records);
      count += records.length;
      for (const r of records) {
        const last = remaining.get(r.partition);
        if (last !== undefined && BigInt(r.offset) >= last) remaining.delete(r.partition);
      }
    });
    const deadline = Date.now() + (options.timeoutMs ?? 300_000);
    // Transaction markers take offsets but are never delivered, so a partition written
    // transactionally may end just short of its high watermark: once nothing has arrived for a
    // while after joining, the end has been reached.
    let lastCount = -1;
    let idleSince = Date.now();
    try {
      while (remaining.size > 0) {
        if (count !== lastCount) {
          lastCount = count;
          idleSince = Date.now();
        } else if (Date.now() - idleSince > 1_500) {
          break;
        }
        if (Date.now() > deadline) throw new Error(`replay of ${topic} timed out with ${remaining.size} partition(s) unfinished`);
        await sleep(20);
      }
    } finally {
      await consumer.stop();
    }
    return count;
  } finally {
    await admin.deleteGroups([groupId]).catch(() => {});
    await admin.close();
  }
}
