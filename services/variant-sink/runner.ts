/**
 * Thin runner of the variant sink: Kafka genotype events in, `variant_calls` rows out. Batches by
 * size and time, inserts idempotently, commits offsets only after the insert, dead-letters what
 * cannot be stored.
 */
import { fileURLToPath } from 'node:url';
import type { Config } from '../../platform/config.ts';
import { TOPICS, topicName } from '../../platform/catalogue.ts';
import { createClickHouse, insertRows } from '../../platform/clickhouse/client.ts';
import { loadMigrations, migrate } from '../../platform/clickhouse/migrate.ts';
import { DeadLetterPublisher } from '../../platform/dead-letter.ts';
import type { GenotypeCallSet } from '../../platform/events.ts';
import { createKafka } from '../../platform/kafka/kafkajs.ts';
import type { KafkaPort } from '../../platform/kafka/port.ts';
import { Lifecycle } from '../../platform/lifecycle.ts';
import type { Logger } from '../../platform/log.ts';
import { createSerde } from '../../platform/serde.ts';
import { SpanKind, extractTraceContext, withSpan } from '../../platform/telemetry.ts';
import { VARIANT_TABLE } from './core.ts';
import { createSinkProcessor } from './processor.ts';

export const SINK_STAGE = 'variant-sink';
export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

export interface SinkStats {
  batches: number;
  records: number;
  rows: number;
  deadLettered: number;
}

export interface SinkHandle {
  stats: SinkStats;
  stop(): Promise<void>;
  /** Rejects when the consumer fails for good. */
  failed: Promise<never>;
}

export async function migrateVariantSink(config: Config): Promise<string[]> {
  const admin = createClickHouse(config, 'default');
  try {
    return await migrate(admin, config.clickhouseDatabase, SINK_STAGE, loadMigrations(MIGRATIONS_DIR));
  } finally {
    await admin.close();
  }
}

export async function startVariantSink(config: Config, log: Logger, kafka: KafkaPort = createKafka(config, log, `-${SINK_STAGE}`)): Promise<SinkHandle> {
  const life = new Lifecycle(log);
  try {
    await migrateVariantSink(config);
    const clickhouse = life.add('clickhouse', createClickHouse(config), (c) => c.close());
    const serde = createSerde(config);
    const producer = life.add('dead-letter producer', await kafka.producer(), (p) => p.close());
    const deadLetters = new DeadLetterPublisher(SINK_STAGE, producer, serde, config.topicPrefix);
    const stats: SinkStats = { batches: 0, records: 0, rows: 0, deadLettered: 0 };
    const process = createSinkProcessor({
      decode: (record) => serde.decode<GenotypeCallSet>(TOPICS.genotypeCalls, record.value),
      insert: (rows, token) => insertRows(clickhouse, VARIANT_TABLE, rows, token),
      deadLetter: (inputs) => deadLetters.publish(inputs),
      log,
    });
    const consumer = kafka.consumer({
      groupId: `${config.topicPrefix}backbone.${SINK_STAGE}`,
      topics: [topicName(TOPICS.genotypeCalls, config.topicPrefix)],
      fromBeginning: true,
      maxBatchSize: config.sinkBatchSize,
      maxBatchMs: config.sinkBatchMaxMs,
    });
    let fail: (error: unknown) => void = () => {};
    const failed = new Promise<never>((_, reject) => {
      fail = reject;
    });
    failed.catch(() => {}); // observed by callers that care
    consumer.onFatal((error) => fail(error));
    await consumer.start(async (records, context) => {
      // One span per batch, linked to the producer's trace through the first record's headers.
      const parent = records[0] === undefined ? undefined : extractTraceContext(records[0].headers);
      const outcome = await withSpan(
        `${SINK_STAGE} process`,
        { 'messaging.system': 'kafka', 'messaging.operation': 'process', 'messaging.batch.message_count': records.length },
        () => process(records, context.signal),
        { kind: SpanKind.CONSUMER, ...(parent === undefined ? {} : { parent }) },
      );
      stats.batches++;
      stats.records += outcome.records;
      stats.rows += outcome.rows;
      stats.deadLettered += outcome.deadLettered;
    });
    life.add('consumer', consumer, (c) => c.stop());
    log.info({ group: `${config.topicPrefix}backbone.${SINK_STAGE}` }, 'variant sink running');
    return { stats, stop: () => life.stop(), failed };
  } catch (error) {
    await life.stop();
    throw error;
  }
}
