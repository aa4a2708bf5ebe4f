/**
 * Consumer-group lag: records written to a topic but not yet committed by a group. On a
 * transactional topic the last offset of a partition is a commit marker that a reader never
 * receives, so a group that is done has committed one short of the end.
 */
import { DependencyError } from '../errors.ts';
import { sleep } from '../retry.ts';
import type { AdminPort, KafkaPort, TopicOffsets } from './port.ts';

/** Lag from a topic's offsets and a group's committed offsets ('-1' = nothing committed yet). */
export function lagOf(ends: readonly TopicOffsets[], committed: readonly { partition: number; offset: string }[], transactional: boolean): bigint {
  const done = new Map(committed.map((c) => [c.partition, BigInt(c.offset)]));
  return ends.reduce((lag, p) => {
    const at = done.get(p.partition) ?? -1n;
    const from = at < 0n ? BigInt(p.low) : at;
    const end = transactional && BigInt(p.high) > BigInt(p.low) ? BigInt(p.high) - 1n : BigInt(p.high);
    return lag + (end > from ? end - from : 0n);
  }, 0n);
}

export async function groupLag(admin: AdminPort, groupId: string, topic: string, transactional = false): Promise<bigint> {
  const [ends, committed] = await Promise.all([admin.topicOffsets(topic), admin.groupOffsets(groupId, topic)]);
  return lagOf(ends, committed, transactional);
}

export async function waitForLag(kafka: KafkaPort, groupId: string, topic: string, timeoutMs: number, transactional = false): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const admin = await kafka.admin();
  try {
    for (;;) {
      const lag = await groupLag(admin, groupId, topic, transactional);
      if (lag === 0n) return;
      if (Date.now() > deadline) throw new DependencyError(groupId, `still ${lag} records of ${topic} behind after ${timeoutMs / 1000} s`, { retriable: false });
      await sleep(100);
    }
  } finally {
    await admin.close();
  }
}
