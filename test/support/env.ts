/**
 * Per-test isolation on the shared stack: every test gets its own topic prefix, registry subjects
 * and ClickHouse database, set up from the catalogue exactly as production does.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../../platform/config.ts';
import { createClickHouse, type ClickHouseClient } from '../../platform/clickhouse/client.ts';
import { createKafka } from '../../platform/kafka/kafkajs.ts';
import type { KafkaPort } from '../../platform/kafka/port.ts';
import { createLogger, type Logger } from '../../platform/log.ts';
import { setup } from '../../cli/setup.ts';

export interface TestEnv {
  config: Config;
  kafka: KafkaPort;
  log: Logger;
  clickhouse: ClickHouseClient;
  /** Environment for a child process that should see the same isolated config. */
  childEnv: Record<string, string>;
  close(): Promise<void>;
}

export async function isolatedEnv(name: string, overrides: Partial<Record<string, string>> = {}): Promise<TestEnv> {
  const endpoints = inject('stack');
  const id = randomBytes(4).toString('hex');
  const settings: Record<string, string> = {
    BACKBONE_KAFKA_BROKERS: endpoints.kafkaBrokers,
    BACKBONE_REGISTRY_URL: endpoints.registryUrl,
    BACKBONE_CLICKHOUSE_URL: endpoints.clickhouseUrl,
    BACKBONE_TOPIC_PREFIX: `t-${name}-${id}.`,
    BACKBONE_CLICKHOUSE_DATABASE: `t_${name.replace(/\W/g, '_')}_${id}`,
    BACKBONE_LOG_LEVEL: 'warn',
    ...Object.fromEntries(Object.entries(overrides).filter((e): e is [string, string] => e[1] !== undefined)),
  };
  const config = loadConfig(settings);
  const log = createLogger({ level: config.logLevel, name: `test-${name}` });
  const kafka = createKafka(config, log, `-test-${name}`);
  await setup(config, kafka);
  const clickhouse = createClickHouse(config);
  return {
    config,
    kafka,
    log,
    clickhouse,
    childEnv: settings,
    // Leave nothing behind on a shared stack: the test's topics and database go with it.
    close: async () => {
      await clickhouse.close();
      const admin = await kafka.admin();
      try {
        await admin.deleteTopics((await admin.listTopics()).filter((t) => t.startsWith(config.topicPrefix)));
      } finally {
        await admin.close();
      }
      const root = createClickHouse(config, 'default');
      try {
        await root.command({ query: `DROP DATABASE IF EXISTS ${config.clickhouseDatabase}` });
      } finally {
        await root.close();
      }
    },
  };
}
