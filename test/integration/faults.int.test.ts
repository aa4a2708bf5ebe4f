import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../platform/config.ts';
import { createClickHouse, queryRows } from '../../platform/clickhouse/client.ts';
import { DependencyError } from '../../platform/errors.ts';
import { createKafka } from '../../platform/kafka/kafkajs.ts';
import { createLogger } from '../../platform/log.ts';
import { createRegistryClient } from '../../platform/registry.ts';

/** A loopback port with nothing listening: the closest thing to a server that is down. */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('servers that are down give a clear error, not a hang', () => {
  it('schema registry', async () => {
    const port = await deadPort();
    const config = loadConfig({ BACKBONE_REGISTRY_URL: `http://127.0.0.1:${port}/apis/ccompat/v7` });
    const error = await createRegistryClient(config).subjects().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyError);
    expect((error as DependencyError).retriable).toBe(true);
    expect(String((error as Error).message)).toMatch(new RegExp(`schema registry: GET http://127.0.0.1:${port}/apis/ccompat/v7/subjects failed: .*ECONNREFUSED`));
  });

  it('ClickHouse', async () => {
    const port = await deadPort();
    const client = createClickHouse(loadConfig({ BACKBONE_CLICKHOUSE_URL: `http://127.0.0.1:${port}` }));
    const error = await queryRows(client, 'SELECT 1').catch((e: unknown) => e);
    await client.close();
    expect(error).toBeInstanceOf(DependencyError);
    expect((error as DependencyError).retriable).toBe(true);
    expect((error as Error).message).toMatch(/^clickhouse: query: .*ECONNREFUSED/);
  });

  it('Kafka, after its retries', async () => {
    const port = await deadPort();
    const config = loadConfig({ BACKBONE_KAFKA_BROKERS: `127.0.0.1:${port}`, BACKBONE_LOG_LEVEL: 'silent' });
    const kafka = createKafka(config, createLogger({ level: 'silent', name: 'test' }));
    const error = await kafka.producer().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyError);
    expect((error as Error).message).toMatch(/^kafka: producer could not connect: .*(ECONNREFUSED|Connection error)/);
  });
});
