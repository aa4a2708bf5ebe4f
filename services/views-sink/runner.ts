/**
 * Thin runner of the views sink: PGx profiles and alerts from Kafka into the ClickHouse views,
 * through the generic sink (batches by size and time, idempotent inserts, offsets committed after
 * the insert, refused records dead-lettered).
 */
import type { Config } from '../../platform/config.ts';
import { TOPICS } from '../../platform/catalogue.ts';
import { migrateComponent, startClickHouseSink, type SinkHandle } from '../../platform/clickhouse/sink.ts';
import type { PgxAlert, PgxProfile } from '../../platform/events.ts';
import type { IncomingRecord, KafkaPort } from '../../platform/kafka/port.ts';
import type { Logger } from '../../platform/log.ts';
import type { Serde } from '../../platform/serde.ts';
import { catalogueTopic, classify, parseProfileKey, toViewRows, type ViewEvent, type ViewRow } from './core.ts';
import { fromRoot } from '../../platform/paths.ts';

export type { SinkHandle } from '../../platform/clickhouse/sink.ts';

export const VIEWS_STAGE = 'views-sink';
export const VIEWS_MIGRATIONS_DIR = fromRoot('services', 'views-sink', 'migrations');

export function migrateViews(config: Config): Promise<string[]> {
  return migrateComponent(config, VIEWS_STAGE, VIEWS_MIGRATIONS_DIR);
}

export async function decodeViewEvent(serde: Serde, record: IncomingRecord, prefix: string): Promise<ViewEvent> {
  const topic = catalogueTopic(record.topic, prefix);
  switch (classify(topic, record.key, record.value)) {
    case 'profile-deleted':
      return { kind: 'profile-deleted', ...parseProfileKey(record.key?.toString('utf8') ?? '') };
    case 'profile':
      return { kind: 'profile', profile: await serde.decode<PgxProfile>(TOPICS.profiles, record.value) };
    case 'alert':
      return { kind: 'alert', alert: await serde.decode<PgxAlert>(TOPICS.alerts, record.value) };
  }
}

export function startViewsSink(config: Config, log: Logger, kafka?: KafkaPort): Promise<SinkHandle> {
  return startClickHouseSink<ViewEvent, ViewRow>(
    {
      stage: VIEWS_STAGE,
      topics: [TOPICS.profiles, TOPICS.alerts],
      migrationsDir: VIEWS_MIGRATIONS_DIR,
      decode: (serde, record) => decodeViewEvent(serde, record, config.topicPrefix),
      toRows: toViewRows,
    },
    config,
    log,
    kafka,
  );
}
