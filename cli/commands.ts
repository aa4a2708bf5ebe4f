/** Composition roots of the long-running and one-shot commands. */
import { parseArgs } from 'node:util';
import type { Config } from '../platform/config.ts';
import { InvalidInputError } from '../platform/errors.ts';
import { createKafka } from '../platform/kafka/kafkajs.ts';
import { Lifecycle } from '../platform/lifecycle.ts';
import { createLogger } from '../platform/log.ts';
import { startTelemetry } from '../platform/telemetry.ts';
import { PUBLISHABLE, type PublishableKind } from '../connectors/events-file/core.ts';
import { publishEventsFile } from '../connectors/events-file/runner.ts';
import { startVariantSink } from '../services/variant-sink/runner.ts';
import { setup } from './setup.ts';

export async function setupCommand(config: Config): Promise<number> {
  const log = createLogger({ level: config.logLevel, name: 'setup' });
  const report = await setup(config, createKafka(config, log));
  console.log(`topics created: ${report.createdTopics.length === 0 ? 'none (all existed)' : report.createdTopics.join(', ')}`);
  for (const s of report.subjects) console.log(`schema registered: ${s.subject} (id ${s.id}, BACKWARD)`);
  console.log(`clickhouse migrations applied: ${report.migrations.length === 0 ? 'none (up to date)' : report.migrations.join(', ')}`);
  return 0;
}

export async function publishCommand(args: string[], config: Config): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { kind: { type: 'string', default: 'genotype-calls' }, lab: { type: 'string' } },
  });
  const kind = values.kind ?? 'genotype-calls';
  if (!(kind in PUBLISHABLE)) throw new InvalidInputError(`--kind must be one of ${Object.keys(PUBLISHABLE).join(', ')}, got '${kind}'`);
  if (positionals.length === 0) throw new InvalidInputError('publish needs at least one FILE');
  const log = createLogger({ level: config.logLevel, name: 'events-file' });
  const stopTelemetry = await startTelemetry(config, 'events-file');
  const kafka = createKafka(config, log, '-events-file');
  try {
    for (const file of positionals) {
      const s = await publishEventsFile(config, log, kafka, file, kind as PublishableKind, values.lab === undefined ? {} : { lab: values.lab });
      console.log(`${s.file}: ${s.events} events published, ${s.deadLettered} dead-lettered, ${s.lines} lines, ${s.seconds.toFixed(2)} s (sha256 ${s.sha256.slice(0, 12)}…)`);
    }
  } finally {
    await stopTelemetry();
  }
  return 0;
}

/**
 * Runs a long-lived service until SIGTERM/SIGINT: telemetry first, the service after, closed in
 * reverse; exits non-zero when its consumer fails for good.
 */
async function runService<H extends { stop(): Promise<void>; failed: Promise<never>; stats: object }>(
  config: Config,
  name: string,
  start: (log: ReturnType<typeof createLogger>) => Promise<H>,
): Promise<number> {
  const log = createLogger({ level: config.logLevel, name });
  const life = new Lifecycle(log);
  life.add('telemetry', await startTelemetry(config, name), (stop) => stop());
  const service = life.add(name, await start(log), (s) => s.stop());
  life.stopOnSignals(() => {
    log.info({ ...service.stats }, `${name} stopped`);
    process.exit(0);
  });
  try {
    await service.failed;
  } catch (error) {
    log.fatal({ err: String(error) }, 'consumer failed for good');
    await life.stop();
    return 1;
  }
  return 0;
}

export function sinkCommand(config: Config): Promise<number> {
  return runService(config, 'variant-sink', (log) => startVariantSink(config, log));
}

export async function viewsSinkCommand(config: Config): Promise<number> {
  const { startViewsSink } = await import('../services/views-sink/runner.ts');
  return runService(config, 'views-sink', (log) => startViewsSink(config, log));
}

export async function processorCommand(args: string[], config: Config): Promise<number> {
  const { values } = parseArgs({ args, options: { instance: { type: 'string', default: 'main' } } });
  const { startPgxProcessor } = await import('../services/pgx-processor/runner.ts');
  return runService(config, 'pgx-processor', (log) => startPgxProcessor(config, log, { instanceId: values.instance ?? 'main' }));
}
