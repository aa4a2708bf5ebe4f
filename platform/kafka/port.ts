/**
 * The Kafka port: what connectors and services need from a Kafka client, and nothing more, so the
 * client library (kafkajs today) can be swapped without touching them.
 */
import type { KafkaHeaders } from '../telemetry.ts';
import type { CleanupPolicy } from '../catalogue.ts';

export interface OutgoingRecord {
  key: string | Buffer | null;
  value: Buffer | null;
  headers?: KafkaHeaders;
}

export interface IncomingRecord {
  topic: string;
  partition: number;
  /** Offsets are strings: they can exceed 2^53. */
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: KafkaHeaders;
  /** Broker or producer timestamp, epoch ms as a string. */
  timestamp: string;
}

export interface ProducerPort {
  /** Resolves when every record is acknowledged by all in-sync replicas (acks=all). */
  send(topic: string, records: OutgoingRecord[]): Promise<void>;
  close(): Promise<void>;
}

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

/** Sends records and commits consumer offsets in one Kafka transaction: all of it happens or none. */
export interface TransactionalProducerPort {
  commit(
    batches: { topic: string; records: OutgoingRecord[] }[],
    offsets?: { groupId: string; offsets: TopicPartitionOffset[] },
  ): Promise<void>;
  close(): Promise<void>;
}

/**
 * Splits records into chunks of at most `maxBytes` (keys, values and headers counted), so one
 * produce request never carries a per-partition batch over the broker's message size limit.
 * A single record larger than the limit gets a chunk of its own (and the broker's verdict).
 */
export function chunkBySize<R extends OutgoingRecord>(records: readonly R[], maxBytes: number): R[][] {
  const chunks: R[][] = [];
  let current: R[] = [];
  let size = 0;
  for (const r of records) {
    let bytes = 64 + (r.key?.length ?? 0) + (r.value?.length ?? 0);
    for (const [k, v] of Object.entries(r.headers ?? {})) bytes += k.length + (v?.length ?? 0);
    if (current.length > 0 && size + bytes > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(r);
    size += bytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** The offsets to commit after handling `records`: one past the highest offset per partition. */
export function nextOffsets(records: readonly Pick<IncomingRecord, 'topic' | 'partition' | 'offset'>[]): TopicPartitionOffset[] {
  const next = new Map<string, { topic: string; partition: number; offset: bigint }>();
  for (const r of records) {
    const key = `${r.topic}\u0000${r.partition}`;
    const offset = BigInt(r.offset) + 1n;
    const seen = next.get(key);
    if (seen === undefined || offset > seen.offset) next.set(key, { topic: r.topic, partition: r.partition, offset });
  }
  return [...next.values()].map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset.toString() }));
}

export interface BatchContext {
  /** Keeps the group membership alive during long work. */
  heartbeat(): Promise<void>;
  /** Aborted when the consumer is stopping. */
  signal: AbortSignal;
}

/**
 * Handles a batch of records. When it resolves, the effect must be durable: the consumer commits
 * the offsets right after. When it rejects, nothing is committed and the records are delivered again.
 */
export type BatchHandler = (records: IncomingRecord[], context: BatchContext) => Promise<void>;

export interface ConsumerOptions {
  groupId: string;
  topics: string[];
  /** Where a group with no committed offset starts. */
  fromBeginning: boolean;
  /** Flush when this many records are buffered. */
  maxBatchSize: number;
  /**
   * Flush when the buffered values reach this many bytes (default: no byte bound). One genotype
   * event can carry thousands of calls, so a record count alone does not bound a sink's memory.
   */
  maxBatchBytes?: number;
  /** Flush when the oldest buffered record has waited this long. */
  maxBatchMs: number;
  /**
   * Who commits offsets: the consumer after the handler resolves (default), or the handler itself,
   * inside a Kafka transaction with its outputs (`TransactionalProducerPort.commit`).
   */
  offsetCommit?: 'after-handler' | 'by-handler';
}

export interface ConsumerPort {
  /** Starts consuming; resolves once the consumer has joined its group and is running. */
  start(handler: BatchHandler): Promise<void>;
  /** Flushes what is buffered (committing it), then leaves the group. */
  stop(): Promise<void>;
  /** Fires when consumption cannot go on (e.g. the group crashed for good). */
  onFatal(listener: (error: unknown) => void): void;
  /**
   * Whether this member still owns the partition. A handler that commits its own offsets (in a
   * transaction) checks this first: a partition given away in a rebalance is the new owner's.
   */
  owns(topic: string, partition: number): boolean;
}

export interface TopicConfig {
  name: string;
  partitions: number;
  cleanupPolicy: CleanupPolicy;
  retentionMs: number;
}

export interface TopicOffsets {
  partition: number;
  /** Next offset to be written (high watermark). */
  high: string;
  low: string;
}

export interface AdminPort {
  /** Creates the topics that do not exist; returns the names it created. Never deletes or shrinks. */
  ensureTopics(topics: TopicConfig[]): Promise<string[]>;
  listTopics(): Promise<string[]>;
  deleteTopics(names: string[]): Promise<void>;
  topicOffsets(topic: string): Promise<TopicOffsets[]>;
  /** Committed offsets of a group for a topic, by partition ('-1' when none). */
  groupOffsets(groupId: string, topic: string): Promise<{ partition: number; offset: string }[]>;
  deleteGroups(groupIds: string[]): Promise<void>;
  close(): Promise<void>;
}

export interface ProducerOptions {
  /**
   * LZ4-compress record batches: worth it for bulk publishing (VCF files: several-fold smaller) and
   * for the PGx processor's transactions (hundreds of records each), not for a few small records.
   * Every consumer made by the port reads LZ4 either way.
   */
  compression?: 'none' | 'lz4';
}

export interface KafkaPort {
  producer(options?: ProducerOptions): Promise<ProducerPort>;
  /** A transactional producer; one transactional id per processor instance fences its zombies. */
  transactionalProducer(transactionalId: string, options?: ProducerOptions): Promise<TransactionalProducerPort>;
  consumer(options: ConsumerOptions): ConsumerPort;
  admin(): Promise<AdminPort>;
}
