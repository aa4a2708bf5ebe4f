/**
 * The Kafka port over kafkajs. Producers are idempotent with acks=all; consumers buffer records
 * across fetches, flush by size or age, and commit offsets only after the handler's effect is durable.
 */
import { nativeCrcInstalled } from './crc32c.ts'; // before kafkajs: see the module
import kafkajs, {
  Kafka,
  logLevel as KafkaLogLevel,
  type Consumer,
  type KafkaMessage,
  type LogEntry,
} from 'kafkajs';
import type { Config } from '../config.ts';
import { DependencyError, describeError, isRetriable } from '../errors.ts';
import type { Logger } from '../log.ts';
import { retry, sleep } from '../retry.ts';
import type {
  AdminPort,
  BatchHandler,
  ConsumerOptions,
  ConsumerPort,
  IncomingRecord,
  KafkaPort,
  OutgoingRecord,
  ProducerOptions,
  ProducerPort,
  TopicConfig,
  TransactionalProducerPort,
} from './port.ts';
import { chunkBySize, nextOffsets } from './port.ts';
import { registerLz4 } from './lz4.ts';
import { javaCompatiblePartitioner } from './partitioner.ts';

const LZ4 = kafkajs.CompressionTypes.LZ4;

/** Bytes per produce call at most: under the broker's default 1 MiB message.max.bytes with room to spare. */
const MAX_REQUEST_BYTES = 768 * 1024;

/** kafkajs logs go through our logger at warn and above; its noisy start-up chatter is dropped. */
function kafkajsLogCreator(log: Logger) {
  const benign = [
    /group coordinator is not available/i,
    /coordinator is (loading|not available)/i,
    /Limiting retries for the idempotent producer/i,
    /The group is rebalancing/i,
    // CONCURRENT_TRANSACTIONS: the last transaction's markers are still being written; retried.
    /another concurrent operation on the same transaction/i,
  ];
  return () =>
    ({ level, log: entry }: LogEntry): void => {
      const { message, logger, error, broker } = entry as { message: string; logger?: unknown; error?: unknown; broker?: unknown };
      const text = `${message} ${typeof error === 'string' ? error : ''}`;
      if (benign.some((re) => re.test(text))) return;
      const fields = { kafkajs: logger, error, broker };
      if (level === KafkaLogLevel.ERROR) log.error(fields, `kafkajs: ${message}`);
      else if (level === KafkaLogLevel.WARN) log.warn(fields, `kafkajs: ${message}`);
    };
}

let crcReported = false;

export function createKafka(config: Config, log: Logger, clientSuffix = ''): KafkaPort {
  registerLz4();
  if (!nativeCrcInstalled && !crcReported) {
    crcReported = true;
    log.warn('native CRC-32C unavailable: kafkajs checksums record batches in JavaScript (slower bulk publishing)');
  }
  const kafka = new Kafka({
    clientId: `${config.kafkaClientId}${clientSuffix}`,
    brokers: [...config.kafkaBrokers],
    logLevel: KafkaLogLevel.WARN,
    logCreator: kafkajsLogCreator(log),
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    // A broker that is down gives a clear error after ~30 s of retries instead of hanging.
    retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 5_000 },
  });
  return {
    producer: (options) => createProducer(kafka, options),
    transactionalProducer: (id, options) => createTransactionalProducer(kafka, id, options),
    consumer: (options) => new KafkajsBatchingConsumer(kafka, options, log),
    admin: () => createAdmin(kafka),
  };
}

/** kafkajs' codec for the port's compression option. */
const compressionOf = (options: ProducerOptions): kafkajs.CompressionTypes => (options.compression === 'lz4' ? LZ4 : kafkajs.CompressionTypes.None);

async function createProducer(kafka: Kafka, options: ProducerOptions = {}): Promise<ProducerPort> {
  const compression = compressionOf(options);
  const producer = kafka.producer({
    idempotent: true,
    // Java-compatible murmur2 partitioning: other clients put a patient's events on the same partition.
    createPartitioner: javaCompatiblePartitioner,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 5_000 },
  });
  await connect('producer', () => producer.connect());
  return {
    async send(topic: string, records: OutgoingRecord[]) {
      if (records.length === 0) return;
      try {
        for (const chunk of chunkBySize(records, MAX_REQUEST_BYTES)) {
          await producer.send({ topic, acks: -1, compression, messages: chunk.map((r) => ({ key: r.key, value: r.value, headers: r.headers })) });
        }
      } catch (error) {
        // kafkajs says whether its error is retriable (a record over max.message.bytes is not).
        throw new DependencyError('kafka', `produce to ${topic} failed: ${describeError(error)}`, { cause: error, retriable: isRetriable(error) });
      }
    },
    close: () => producer.disconnect(),
  };
}

async function createTransactionalProducer(kafka: Kafka, transactionalId: string, options: ProducerOptions = {}): Promise<TransactionalProducerPort> {
  const compression = compressionOf(options);
  const producer = kafka.producer({
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: javaCompatiblePartitioner,
    transactionTimeout: 30_000,
    // The broker answers CONCURRENT_TRANSACTIONS while the previous transaction's markers are being
    // written (usually a few ms, as the processor starts the next transaction right away). kafkajs'
    // exponential backoff from 300 ms stalled the pipeline that long; retries here start at 10 ms
    // and grow slowly (x1.2, capped at 5 s), ~30 s in all before a transaction fails for good.
    retry: { retries: 35, initialRetryTime: 10, multiplier: 1.2, factor: 0.1, maxRetryTime: 5_000 },
  });
  await connect('transactional producer', () => producer.connect());
  return {
    async commit(batches, offsets) {
      const transaction = await producer.transaction();
      try {
        // All topics in as few produce requests as the size limit allows: one round trip, not one per topic.
        const tagged = batches.flatMap((b) => b.records.map((r) => ({ ...r, topic: b.topic })));
        for (const chunk of chunkBySize(tagged, MAX_REQUEST_BYTES)) {
          const messages = groupByTopic(chunk, (r) => ({ key: r.key, value: r.value, headers: r.headers }));
          await transaction.sendBatch({ acks: -1, compression, topicMessages: [...messages].map(([topic, m]) => ({ topic, messages: m })) });
        }
        if (offsets !== undefined && offsets.offsets.length > 0) {
          const topics = [...groupByTopic(offsets.offsets, (o) => ({ partition: o.partition, offset: o.offset }))].map(([topic, partitions]) => ({ topic, partitions }));
          // kafkajs sends AddOffsetsToTxn without retrying; right after the previous commit (a batch
          // with no output records starts with it) the broker may still answer CONCURRENT_TRANSACTIONS.
          // The refused request added nothing to the transaction, so it is simply sent again.
          await retry(
            async (_attempt, bail) => {
              try {
                await transaction.sendOffsets({ consumerGroupId: offsets.groupId, topics });
              } catch (error) {
                if ((error as { type?: unknown }).type !== 'CONCURRENT_TRANSACTIONS') bail(error);
                throw error;
              }
            },
            { attempts: 41, initialDelayMs: 10, maxDelayMs: 1_000, what: 'kafka AddOffsetsToTxn' },
          );
        }
        await transaction.commit();
      } catch (error) {
        await transaction.abort().catch(() => {});
        throw new DependencyError('kafka', `transaction failed and was aborted: ${describeError(error)}`, { cause: error });
      }
    },
    close: () => producer.disconnect(),
  };
}

/** Items grouped by topic, in first-seen order within each topic (what kafkajs takes per topic). */
function groupByTopic<T extends { topic: string }, V>(items: readonly T[], value: (item: T) => V): Map<string, V[]> {
  const groups = new Map<string, V[]>();
  for (const item of items) {
    const group = groups.get(item.topic);
    if (group === undefined) groups.set(item.topic, [value(item)]);
    else group.push(value(item));
  }
  return groups;
}

async function connect(what: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    throw new DependencyError('kafka', `${what} could not connect: ${describeError(error)}`, { cause: error });
  }
}

async function createAdmin(kafka: Kafka): Promise<AdminPort> {
  const admin = kafka.admin();
  await connect('admin', () => admin.connect());
  return {
    async ensureTopics(topics: TopicConfig[]) {
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t.name));
      if (missing.length > 0) {
        // kafkajs waits for the new topics' leaders with metadata requests, and gives up at once when
        // the metadata does not list a new topic yet (UNKNOWN_TOPIC_OR_PARTITION: seen with a busy
        // KRaft broker). Both steps are then taken again; topics that exist by now are skipped.
        await retry(
          async (_attempt, bail) => {
            try {
              await admin.createTopics({
                waitForLeaders: true,
                topics: missing.map((t) => ({
                  topic: t.name,
                  numPartitions: t.partitions,
                  replicationFactor: 1,
                  configEntries: [
                    { name: 'cleanup.policy', value: t.cleanupPolicy },
                    { name: 'retention.ms', value: String(t.retentionMs) },
                  ],
                })),
              });
              await admin.fetchTopicMetadata({ topics: missing.map((t) => t.name) });
            } catch (error) {
              if ((error as { type?: unknown }).type !== 'UNKNOWN_TOPIC_OR_PARTITION') bail(error);
              throw error;
            }
          },
          { attempts: 20, initialDelayMs: 50, maxDelayMs: 1_000, what: 'kafka topic creation' },
        );
      }
      return missing.map((t) => t.name);
    },
    listTopics: () => admin.listTopics(),
    async deleteTopics(names: string[]) {
      if (names.length > 0) await admin.deleteTopics({ topics: names });
    },
    async topicOffsets(topic: string) {
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets.map((o) => ({ partition: o.partition, high: o.high, low: o.low }));
    },
    async groupOffsets(groupId: string, topic: string) {
      const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return (result?.partitions ?? []).map((p) => ({ partition: p.partition, offset: p.offset }));
    },
    async deleteGroups(groupIds: string[]) {
      if (groupIds.length > 0) await admin.deleteGroups(groupIds);
    },
    close: () => admin.disconnect(),
  };
}

function toIncoming(topic: string, partition: number, m: KafkaMessage): IncomingRecord {
  const headers: Record<string, Buffer | string | undefined> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    headers[k] = Array.isArray(v) ? v[v.length - 1] : v;
  }
  return { topic, partition, offset: m.offset, key: m.key, value: m.value, headers, timestamp: m.timestamp };
}

const tp = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/** Longest a failed batch waits before it is read again: below the session timeout, so the member stays. */
const MAX_REWIND_DELAY_MS = 8_000;
const SESSION_TIMEOUT_MS = 10_000;
const HEARTBEAT_MS = 3_000;

class KafkajsBatchingConsumer implements ConsumerPort {
  private readonly consumer: Consumer;
  private buffer: IncomingRecord[] = [];
  private bufferBytes = 0;
  private oldestAt = 0;
  private flushChain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private handler: BatchHandler | undefined;
  private readonly abort = new AbortController();
  private fatalListeners: ((error: unknown) => void)[] = [];
  private failures = 0;
  private stopping = false;
  private timerFlushQueued = false;
  /** Partitions this member owns ('topic\0partition'); undefined until the first join. */
  private assigned: Set<string> | undefined;

  constructor(
    kafka: Kafka,
    private readonly options: ConsumerOptions,
    private readonly log: Logger,
  ) {
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      // The broker answers a fetch as soon as any data is there (minBytes 1), so a long wait costs no
      // latency; it only stops idle consumers from polling the broker every few milliseconds.
      maxWaitTimeInMs: 500,
      // A crashed member's partitions move to a live one within ~10 s.
      sessionTimeout: SESSION_TIMEOUT_MS,
      heartbeatInterval: HEARTBEAT_MS,
      allowAutoTopicCreation: false,
      retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 5_000 },
    });
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      if (!event.payload.restart) for (const l of this.fatalListeners) l(event.payload.error);
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      const owned = new Set<string>();
      for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) for (const p of partitions) owned.add(tp(topic, p));
      this.assigned = owned;
      // After a join kafkajs fetches every partition again from its committed offset, so whatever is
      // buffered comes again (or is another member's now): keeping it would apply it twice, out of order.
      this.buffer = [];
      this.bufferBytes = 0;
    });
  }

  onFatal(listener: (error: unknown) => void): void {
    this.fatalListeners.push(listener);
  }

  private get maxBatchBytes(): number {
    return this.options.maxBatchBytes ?? Number.POSITIVE_INFINITY;
  }

  owns(topic: string, partition: number): boolean {
    return this.assigned?.has(tp(topic, partition)) ?? false;
  }

  async start(handler: BatchHandler): Promise<void> {
    this.handler = handler;
    try {
      await connect(`consumer ${this.options.groupId}`, () => this.consumer.connect());
      await this.consumer.subscribe({ topics: this.options.topics, fromBeginning: this.options.fromBeginning });
      // Resolves on the first group join. A crash kafkajs will not recover from rejects instead of
      // hanging; one it restarts from by itself (coordinator not ready yet) is waited out.
      const joined = new Promise<void>((resolve, reject) => {
        const offJoin = this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
          offJoin();
          offCrash();
          resolve();
        });
        const offCrash = this.consumer.on(this.consumer.events.CRASH, (event) => {
          if (event.payload.restart) return;
          offJoin();
          offCrash();
          reject(new DependencyError('kafka', `consumer ${this.options.groupId} failed to join: ${describeError(event.payload.error)}`, { cause: event.payload.error }));
        });
      });
      await this.consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: async (payload) => {
          const { batch } = payload;
          for (const message of batch.messages) {
            // Unresolved and uncommitted: whatever is left here is fetched again by the next owner.
            if (this.stopping || !payload.isRunning() || payload.isStale()) break;
            // A record's age counts from when it was produced, not from when this fetch brought it:
            // records that waited in Kafka while the last batch was handled are due at once. Never
            // later than arrival, so a producer clock running ahead cannot hold a batch back.
            const stamped = Number(message.timestamp);
            const producedAt = stamped > 0 ? Math.min(Date.now(), stamped) : Date.now(); // -1: no timestamp
            if (this.buffer.length === 0 || producedAt < this.oldestAt) this.oldestAt = producedAt;
            this.buffer.push(toIncoming(batch.topic, batch.partition, message));
            this.bufferBytes += message.value?.length ?? 0;
            // Moves the fetch position only; the commit happens after the flush.
            payload.resolveOffset(message.offset);
            if (this.buffer.length >= this.options.maxBatchSize || this.bufferBytes >= this.maxBatchBytes) await this.flushKeepingMembership(() => payload.heartbeat());
          }
          // A batch that is only due by age is flushed by the timer, not here: eachBatch returns at
          // once, so kafkajs keeps fetching while the handler runs and the next batch is already
          // buffered (and due) when this one is done. Only a full buffer holds fetching back.
        },
      });
      this.timer = setInterval(
        () => {
          // Outside eachBatch kafkajs keeps the membership alive itself, so no heartbeat is needed.
          // One timer flush queued at a time: while a long handler runs, the buffer is due on every
          // tick, and queueing a flush per tick would run them back to back later.
          if (this.due() && !this.stopping && !this.timerFlushQueued) {
            this.timerFlushQueued = true;
            void this.flush(async () => {})
              .catch(() => {}) // logged by flush
              .finally(() => (this.timerFlushQueued = false));
          }
        },
        Math.max(5, Math.floor(this.options.maxBatchMs / 4)),
      );
      await joined;
    } catch (error) {
      // Leave nothing running behind a failed start: no timer, no kafkajs restart pending.
      this.stopping = true;
      if (this.timer !== undefined) clearInterval(this.timer);
      await this.consumer.disconnect().catch(() => {});
      throw error;
    }
  }

  private due(): boolean {
    return this.buffer.length > 0 && Date.now() - this.oldestAt >= this.options.maxBatchMs;
  }

  /**
   * kafkajs 2 heartbeats only between batches; while eachBatch waits on a slow flush (ClickHouse
   * retrying) it heartbeats here, so the member is not evicted and the group not rebalanced.
   */
  private async flushKeepingMembership(heartbeat: () => Promise<void>): Promise<void> {
    const beat = setInterval(() => void heartbeat().catch(() => {}), HEARTBEAT_MS);
    try {
      await this.flush(heartbeat);
    } finally {
      clearInterval(beat);
    }
  }

  /** Serialised: one flush at a time, in arrival order. */
  private flush(heartbeat: () => Promise<void>): Promise<void> {
    const run = this.flushChain.then(() => this.flushNow(heartbeat));
    this.flushChain = run.catch((error: unknown) => this.log.error({ err: describeError(error), group: this.options.groupId }, 'flush failed'));
    return run;
  }

  private async flushNow(heartbeat: () => Promise<void>): Promise<void> {
    const records = this.buffer;
    if (records.length === 0 || this.handler === undefined) return;
    this.buffer = [];
    this.bufferBytes = 0;
    try {
      await this.handler(records, { heartbeat, signal: this.abort.signal });
      this.failures = 0;
    } catch (error) {
      await this.rewind(records, error);
      return;
    }
    if (this.options.offsetCommit === 'by-handler') return;
    // Only partitions this member still owns: committing another owner's partition could move its
    // offset backwards.
    const owned = this.assigned;
    const offsets = nextOffsets(records).filter((o) => owned === undefined || owned.has(tp(o.topic, o.partition)));
    try {
      await this.consumer.commitOffsets(offsets);
    } catch (error) {
      // The effect is durable and idempotent; after a rebalance the new owner re-reads and re-applies.
      this.log.warn({ err: describeError(error), group: this.options.groupId }, 'offset commit failed; records will be re-delivered');
    }
  }

  /**
   * The handler failed as a whole (e.g. ClickHouse down after retries): nothing may be skipped, so
   * every partition in the failed flush, and whatever was buffered after it, is read again.
   */
  private async rewind(failed: IncomingRecord[], error: unknown): Promise<void> {
    const pending = [...failed, ...this.buffer];
    this.buffer = [];
    this.bufferBytes = 0;
    const first = new Map<string, { topic: string; partition: number; offset: bigint }>();
    for (const r of pending) {
      const key = tp(r.topic, r.partition);
      const offset = BigInt(r.offset);
      const seen = first.get(key);
      if (seen === undefined || offset < seen.offset) first.set(key, { topic: r.topic, partition: r.partition, offset });
    }
    this.failures++;
    const delay = Math.min(MAX_REWIND_DELAY_MS, 250 * 2 ** Math.min(this.failures, 6));
    this.log.error(
      { err: describeError(error), group: this.options.groupId, records: failed.length, failures: this.failures, retryInMs: delay },
      'batch failed; reading it again from the last committed position',
    );
    for (const o of first.values()) {
      try {
        this.consumer.seek({ topic: o.topic, partition: o.partition, offset: o.offset.toString() });
      } catch (seekError) {
        // No group right now (rebalancing or restarting): the committed offset is where reading resumes.
        this.log.warn({ err: describeError(seekError), group: this.options.groupId }, 'seek failed; resuming from the committed offset');
      }
    }
    await sleep(delay, this.abort.signal);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    try {
      this.consumer.pause(this.options.topics.map((topic) => ({ topic })));
      // Drain what was buffered so a clean shutdown commits everything it already handled.
      await this.flush(async () => {}).catch(() => {});
    } catch (error) {
      this.log.warn({ err: describeError(error), group: this.options.groupId }, 'could not drain before stopping; records will be re-delivered');
    } finally {
      this.abort.abort();
      await this.consumer.disconnect();
    }
  }
}
