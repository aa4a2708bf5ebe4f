/**
 * Thin runner of the variant sink: Kafka genotype events and variant blocks in, `variant_calls` rows out. Batches by
 * size and time, inserts idempotently, commits offsets only after the insert, dead-letters what
 * cannot be stored (the generic sink runner in platform/clickhouse/sink.ts does the work).
 */
import type { Config } from '../../platform/config.ts';
import { TOPICS } from '../../platform/catalogue.ts';
import { migrateComponent, startClickHouseSink, type SinkHandle } from '../../platform/clickhouse/sink.ts';
import type { GenotypeCallSet, VariantBlock } from '../../platform/events.ts';
import type { KafkaPort } from '../../platform/kafka/port.ts';
import type { Logger } from '../../platform/log.ts';
import { dedupToken, type VariantCallRow } from './core.ts';
import { variantTableRows } from './processor.ts';
import { fromRoot } from '../../platform/paths.ts';

export type { SinkHandle, SinkStats } from '../../platform/clickhouse/sink.ts';

export const SINK_STAGE = 'variant-sink';
export const MIGRATIONS_DIR = fromRoot('services', 'variant-sink', 'migrations');

export function migrateVariantSink(config: Config): Promise<string[]> {
  return migrateComponent(config, SINK_STAGE, MIGRATIONS_DIR);
}

export function startVariantSink(config: Config, log: Logger, kafka?: KafkaPort): Promise<SinkHandle> {
  return startClickHouseSink<GenotypeCallSet | VariantBlock, VariantCallRow>(
    {
      stage: SINK_STAGE,
      topics: [TOPICS.genotypeCalls, TOPICS.variantBlocks],
      migrationsDir: MIGRATIONS_DIR,
      decode: (serde, record) =>
        record.topic === `${config.topicPrefix}${TOPICS.variantBlocks}`
          ? serde.decode<VariantBlock>(TOPICS.variantBlocks, record.value)
          : serde.decode<GenotypeCallSet>(TOPICS.genotypeCalls, record.value),
      toRows: variantTableRows,
      token: (_table, rows) => dedupToken(rows),
    },
    config,
    log,
    kafka,
  );
}
