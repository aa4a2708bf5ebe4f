/**
 * The same three servers from official images through testcontainers, for machines that have a
 * Docker engine. Images and settings mirror docker-compose.yml; each call gets fresh, throw-away
 * containers on random host ports (the registry keeps schemas in memory here).
 */
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import {
  GenericContainer,
  RandomPortGenerator,
  Wait,
  getContainerRuntimeClient,
  type StartedTestContainer,
} from 'testcontainers';
import { StackError } from './errors.ts';
import { httpRequest } from './net.ts';
import { INFRA_DIR } from './paths.ts';

export const IMAGES = {
  kafka: 'apache/kafka:4.3.1',
  registry: 'apicurio/apicurio-registry:3.0.9',
  clickhouse: 'clickhouse/clickhouse-server:26.8',
} as const;

const STARTUP_TIMEOUT_MS = 120_000;
const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

export interface ContainerStack {
  kafkaBrokers: string;
  registryUrl: string;
  clickhouseUrl: string;
  stop(): Promise<void>;
}

function canConnect(target: { path: string } | { host: string; port: number }, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(target);
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/**
 * Whether a Docker engine answers. `dockerHost` is the DOCKER_HOST value, passed in by the caller
 * (configuration is read in one place only); without it the default socket is tried.
 */
export async function dockerAvailable(dockerHost?: string): Promise<boolean> {
  const host = dockerHost?.trim() ?? '';
  if (host === '' || host.startsWith('unix://')) {
    const path = host === '' ? DEFAULT_DOCKER_SOCKET : host.slice('unix://'.length);
    return existsSync(path) && canConnect({ path });
  }
  if (host.startsWith('tcp://')) {
    const url = new URL(host.replace(/^tcp:/, 'http:'));
    return canConnect({ host: url.hostname, port: Number(url.port === '' ? 2375 : url.port) });
  }
  return false; // ssh:// and npipe:// are not probed; treat as unavailable.
}

/**
 * Kafka advertises the address clients must use, so the host port is chosen before the container
 * starts and bound 1:1 (container port = host port); a randomly mapped port could not be advertised.
 */
async function startKafka(dockerHostName: string): Promise<{ container: StartedTestContainer; brokers: string }> {
  const port = await new RandomPortGenerator().generatePort();
  const container = await new GenericContainer(IMAGES.kafka)
    .withExposedPorts({ container: port, host: port })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: `PLAINTEXT://:${port},CONTROLLER://:9093`,
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${dockerHostName}:${port}`,
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_NUM_PARTITIONS: '3',
      KAFKA_DEFAULT_REPLICATION_FACTOR: '1',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: '10',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
      KAFKA_HEAP_OPTS: '-Xmx512m',
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .withStartupTimeout(STARTUP_TIMEOUT_MS)
    .start();
  return { container, brokers: `${dockerHostName}:${port}` };
}

async function startRegistry(): Promise<{ container: StartedTestContainer; url: string }> {
  const container = await new GenericContainer(IMAGES.registry)
    .withExposedPorts(8080)
    .withEnvironment({ JAVA_OPTS_APPEND: '-Xmx384m' })
    .withWaitStrategy(Wait.forHttp('/apis/ccompat/v7/subjects', 8080).forStatusCode(200))
    .withStartupTimeout(STARTUP_TIMEOUT_MS)
    .start();
  const url = `http://${container.getHost()}:${container.getMappedPort(8080)}/apis/ccompat/v7`;
  // Same contract as the native stack: global compatibility BACKWARD, visible through ccompat.
  const answer = await httpRequest(`${url}/config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ compatibility: 'BACKWARD' }),
  });
  if (answer?.status !== 200) {
    await container.stop();
    throw new StackError('registry container: setting global compatibility to BACKWARD failed.', {
      code: 'START_FAILED',
      server: 'registry',
    });
  }
  return { container, url };
}

async function startClickHouse(): Promise<{ container: StartedTestContainer; url: string }> {
  const container = await new GenericContainer(IMAGES.clickhouse)
    .withExposedPorts(8123)
    .withEnvironment({ CLICKHOUSE_SKIP_USER_SETUP: '1' })
    .withCopyFilesToContainer([
      {
        source: join(INFRA_DIR, 'clickhouse', 'docker-memory.xml'),
        target: '/etc/clickhouse-server/config.d/memory.xml',
      },
    ])
    .withUlimits({ nofile: { soft: 262144, hard: 262144 } })
    .withWaitStrategy(Wait.forHttp('/ping', 8123).forStatusCode(200))
    .withStartupTimeout(STARTUP_TIMEOUT_MS)
    .start();
  return { container, url: `http://${container.getHost()}:${container.getMappedPort(8123)}` };
}

/** Starts Kafka, the registry and ClickHouse in containers; `stop()` removes them again. */
export async function startWithTestcontainers(): Promise<ContainerStack> {
  const runtime = await getContainerRuntimeClient();
  const started: StartedTestContainer[] = [];
  const stop = async (): Promise<void> => {
    for (const container of started.reverse()) await container.stop();
  };
  try {
    const kafka = await startKafka(runtime.info.containerRuntime.host);
    started.push(kafka.container);
    // The registry and ClickHouse do not depend on each other (the registry stores in memory).
    // allSettled, so a container that did start is still stopped when the other one fails.
    const [registry, clickhouse] = await Promise.allSettled([startRegistry(), startClickHouse()]);
    if (registry.status === 'fulfilled') started.push(registry.value.container);
    if (clickhouse.status === 'fulfilled') started.push(clickhouse.value.container);
    if (registry.status === 'rejected') throw registry.reason;
    if (clickhouse.status === 'rejected') throw clickhouse.reason;
    return { kafkaBrokers: kafka.brokers, registryUrl: registry.value.url, clickhouseUrl: clickhouse.value.url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
