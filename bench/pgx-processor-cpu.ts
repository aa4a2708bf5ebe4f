/**
 * CPU cost per event of the PGx processor without a broker (prints numbers; not a test): the runner
 * is driven through an in-memory Kafka port, so what is measured is decoding, the core, encoding
 * and the runner's bookkeeping (plus GC), not kafkajs or the network. Uses the schema registry of
 * the configured environment (run `backbone setup` first). Each event is a new patient's CYP2C19
 * panel (the population mix of bench:processor), in batches as the consumer would make them.
 * Usage: node --import tsx bench/pgx-processor-cpu.ts [--events 40000] [--batch 60] [--rounds 3] [--cpu-prof FILE]
 *   (--cpu-prof: a V8 CPU profile of the processing only, not of making the inputs, of the last round)
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from '../platform/config.ts';
import { TOPICS, topicName } from '../platform/catalogue.ts';
import type { AdminPort, BatchHandler, ConsumerPort, IncomingRecord, KafkaPort, OutgoingRecord, TransactionalProducerPort } from '../platform/kafka/port.ts';
import { createLogger } from '../platform/log.ts';
import { createSerde } from '../platform/serde.ts';
import { startPgxProcessor } from '../services/pgx-processor/runner.ts';
import { diplotypeCalls, genotypes } from '../test/support/pgx-events.ts';

const { values } = parseArgs({ options: { events: { type: 'string', default: '40000' }, batch: { type: 'string', default: '60' }, rounds: { type: 'string', default: '3' }, 'cpu-prof': { type: 'string' } } });
const events = Number(values.events);
const batchSize = Number(values.batch);
const config = loadConfig();
const log = createLogger({ level: 'warn', name: 'bench' });
const serde = createSerde(config);
const inputTopic = topicName(TOPICS.genotypeCalls, config.topicPrefix);
const MIX: [string, string][] = [['*1', '*1'], ['*1', '*2'], ['*2', '*2'], ['*1', '*17'], ['*17', '*17'], ['*2', '*17'], ['*2', '*3']];
const panels = MIX.map(([a, b]) => diplotypeCalls('CYP2C19', a, b));

/** An in-memory port: the consumer is driven by hand, commits only count what they were given. */
function memoryKafka() {
  let handler: BatchHandler | undefined;
  let outputs = 0;
  const admin: AdminPort = {
    ensureTopics: async () => [],
    listTopics: async () => [],
    deleteTopics: async () => {},
    topicOffsets: async () => [],
    groupOffsets: async () => [],
    deleteGroups: async () => {},
    close: async () => {},
  };
  const producer: TransactionalProducerPort = {
    async commit(batches) {
      for (const b of batches) outputs += b.records.length;
      await new Promise((r) => setImmediate(r));
    },
    close: async () => {},
  };
  const consumer: ConsumerPort = {
    start: async (h) => {
      handler = h;
    },
    stop: async () => {},
    onFatal: () => {},
    owns: () => true,
  };
  const port: KafkaPort = { producer: async () => ({ send: async () => {}, close: async () => {} }), transactionalProducer: async () => producer, consumer: () => consumer, admin: async () => admin };
  return {
    port,
    outputs: () => outputs,
    deliver: (records: IncomingRecord[]) => {
      if (handler === undefined) throw new Error('consumer not started');
      return handler(records, { heartbeat: async () => {}, signal: new AbortController().signal });
    },
  };
}

for (let round = 0; round < Number(values.rounds); round++) {
  const records: IncomingRecord[] = [];
  for (let n = 0; n < events; n++) {
    const e = genotypes(`PT-cpu-${round}-${n}`, panels[n % panels.length]!);
    const value: Buffer | null = await serde.encode(TOPICS.genotypeCalls, e);
    const key: OutgoingRecord['key'] = Buffer.from(e.patientId);
    records.push({ topic: inputTopic, partition: n % 3, offset: String(n), key: key, value, headers: {}, timestamp: String(Date.now()) });
  }
  const kafka = memoryKafka();
  const processor = await startPgxProcessor(config, log, {}, kafka.port);
  const profiling = values['cpu-prof'] !== undefined && round === Number(values.rounds) - 1 ? new Session() : undefined;
  if (profiling !== undefined) {
    profiling.connect();
    await profiling.post('Profiler.enable');
    await profiling.post('Profiler.start');
  }
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < records.length; i += batchSize) await kafka.deliver(records.slice(i, i + batchSize));
  await processor.stop();
  const used = process.cpuUsage(cpu);
  const wall = performance.now() - started;
  const heap = process.memoryUsage().heapUsed / 2 ** 20;
  if (profiling !== undefined) {
    const { profile } = await profiling.post('Profiler.stop');
    writeFileSync(values['cpu-prof'] ?? '', JSON.stringify(profile));
    profiling.disconnect();
  }
  console.log(
    `round ${round}: ${events} events, ${kafka.outputs()} outputs, CPU ${((used.user + used.system) / 1000 / events).toFixed(3)} ms/event (wall ${(wall / events).toFixed(3)} ms/event), heap used after ${heap.toFixed(0)} MB`,
  );
}
process.exit(0);
