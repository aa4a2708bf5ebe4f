/**
 * `backbone setup`: everything a fresh environment needs before data flows, driven by the
 * catalogue — topics created, value schemas registered with BACKWARD compatibility, ClickHouse
 * migrations applied. Idempotent.
 */
import type { Config } from '../platform/config.ts';
import { catalogue, topicName, valueSubject } from '../platform/catalogue.ts';
import type { KafkaPort } from '../platform/kafka/port.ts';
import { createRegistryClient, registerBackward } from '../platform/registry.ts';
import { migrateComponent } from '../platform/clickhouse/sink.ts';
import { migrateVariantSink } from '../services/variant-sink/runner.ts';
import { migrateViews } from '../services/views-sink/runner.ts';
import { POC_MIGRATIONS_DIR, POC_STAGE } from '../services/point-of-care/runner.ts';

export interface SetupReport {
  createdTopics: string[];
  subjects: { subject: string; id: number }[];
  migrations: string[];
}

export async function setup(config: Config, kafka: KafkaPort): Promise<SetupReport> {
  const entries = catalogue();
  const admin = await kafka.admin();
  let createdTopics: string[];
  try {
    createdTopics = await admin.ensureTopics(
      entries.map((e) => ({
        name: topicName(e.name, config.topicPrefix),
        partitions: e.partitions,
        cleanupPolicy: e.cleanupPolicy,
        retentionMs: e.retentionMs,
      })),
    );
  } finally {
    await admin.close();
  }
  const registry = createRegistryClient(config);
  const subjects: SetupReport['subjects'] = [];
  for (const e of entries) {
    const subject = valueSubject(topicName(e.name, config.topicPrefix));
    subjects.push({ subject, id: await registerBackward(registry, subject, e.schema) });
  }
  const migrations = [
    ...(await migrateVariantSink(config)),
    ...(await migrateViews(config)),
    ...(await migrateComponent(config, POC_STAGE, POC_MIGRATIONS_DIR)),
  ];
  return { createdTopics, subjects, migrations };
}
