import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { StackError } from '../errors.ts';
import { INFRA_DIR, confDir, dataDir } from '../paths.ts';
import { LOOPBACK, portAccepts } from '../net.ts';
import { runCommand, tailText } from '../process.ts';
import type { StackOptions } from '../types.ts';
import type { LaunchSpec, ServerContext, ServerDef } from './server.ts';

const LOG4J_CONFIG = join(INFRA_DIR, 'kafka', 'log4j2.xml');

const logDir = (ctx: ServerContext): string => join(dataDir(ctx.paths, 'kafka'), 'logs');
const clusterIdFile = (ctx: ServerContext): string => join(dataDir(ctx.paths, 'kafka'), 'cluster-id');
const propertiesFile = (ctx: ServerContext): string => join(confDir(ctx.paths, 'kafka'), 'server.properties');
const classPath = (ctx: ServerContext): string => `${ctx.paths.kafkaLibs}/*`;

/** A single combined broker+controller node on loopback; rewritten on every start so port changes apply. */
function serverProperties(ctx: ServerContext): string {
  const { kafkaPort, kafkaControllerPort } = ctx.opts;
  const props: Record<string, string | number> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    listeners: `PLAINTEXT://${LOOPBACK}:${kafkaPort},CONTROLLER://${LOOPBACK}:${kafkaControllerPort}`,
    'advertised.listeners': `PLAINTEXT://${LOOPBACK}:${kafkaPort}`,
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name': 'PLAINTEXT',
    'controller.listener.names': 'CONTROLLER',
    // A static voter set (rather than a formatted dynamic quorum) lets the controller port change
    // between starts without re-formatting the storage.
    'controller.quorum.voters': `1@${LOOPBACK}:${kafkaControllerPort}`,
    'log.dirs': logDir(ctx),
    'num.partitions': 3,
    'default.replication.factor': 1,
    'min.insync.replicas': 1,
    // Internal topics default to replication factor 3, which one node can never satisfy.
    'offsets.topic.replication.factor': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    // Fewer coordinator partitions make the first consumer group on a fresh broker join faster.
    'offsets.topic.num.partitions': 10,
    // No 3 s wait before the first rebalance: tests and the demo start consumers constantly.
    'group.initial.rebalance.delay.ms': 0,
    // Topics are created explicitly with their intended settings, never by a typo.
    'auto.create.topics.enable': 'false',
  };
  return Object.entries(props)
    .map(([key, value]) => `${key}=${String(value)}`)
    .join('\n')
    .concat('\n');
}

/**
 * Kafka's cluster id is a UUID in unpadded base64url (22 characters). Generating it here saves a
 * JVM start; like Kafka we avoid ids that begin with '-', which its command-line tools misread.
 */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

async function clusterId(ctx: ServerContext): Promise<string> {
  const file = clusterIdFile(ctx);
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const id = newClusterId();
  await writeFile(file, `${id}\n`);
  return id;
}

/** KRaft storage is formatted once; meta.properties in the log dir marks a formatted node. */
async function formatStorageOnce(ctx: ServerContext): Promise<void> {
  if (existsSync(join(logDir(ctx), 'meta.properties'))) return;
  const id = await clusterId(ctx);
  ctx.log(`kafka: formatting storage (cluster id ${id})`);
  const args = [
    '-cp',
    classPath(ctx),
    `-Dlog4j2.configurationFile=${LOG4J_CONFIG}`,
    'kafka.tools.StorageTool',
    'format',
    '--cluster-id',
    id,
    '--config',
    propertiesFile(ctx),
    '--ignore-formatted',
  ];
  const result = await runCommand('java', args, { cwd: dataDir(ctx.paths, 'kafka') });
  if (result.code !== 0) {
    throw new StackError(`kafka: formatting the storage failed:\n${tailText(result.output, 30)}`, {
      code: 'START_FAILED',
      server: 'kafka',
    });
  }
}

async function prepare(ctx: ServerContext): Promise<void> {
  await mkdir(logDir(ctx), { recursive: true });
  await mkdir(confDir(ctx.paths, 'kafka'), { recursive: true });
  await writeFile(propertiesFile(ctx), serverProperties(ctx));
  await formatStorageOnce(ctx);
}

function launch(ctx: ServerContext): LaunchSpec {
  return {
    command: 'java',
    args: [
      '-Xmx512m',
      '-XX:+ExitOnOutOfMemoryError',
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${LOG4J_CONFIG}`,
      '-cp',
      classPath(ctx),
      'kafka.Kafka',
      propertiesFile(ctx),
    ],
    cwd: dataDir(ctx.paths, 'kafka'),
  };
}

/** Ready means the broker answers metadata requests, not merely that the port is open. */
async function isReady(ctx: ServerContext): Promise<boolean> {
  const port = ctx.opts.kafkaPort;
  if (!(await portAccepts(port))) return false;
  const admin = new Kafka({
    clientId: 'stack-readiness',
    brokers: [`${LOOPBACK}:${port}`],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 3_000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export const kafkaServer: ServerDef = {
  name: 'kafka',
  port: (opts: StackOptions) => opts.kafkaPort,
  ports: (opts: StackOptions) => [opts.kafkaPort, opts.kafkaControllerPort],
  url: (opts: StackOptions) => `${LOOPBACK}:${opts.kafkaPort}`,
  prepare,
  launch,
  isReady,
};
