/**
 * PGx processor benchmark (prints numbers; not a test): genotype events published at a fixed rate,
 * each a new patient's CYP2C19 panel; latency from publish-acknowledged to the first committed alert
 * for that patient, read by a separate read_committed consumer.
 *   --mix population (default): diplotypes cycle *1/*1, *1/*2, *2/*2, *1/*17, *17/*17, *2/*17, *2/*3,
 *     so 4 in 7 patients (the *2/*3 carriers) get clopidogrel alerts;
 *   --mix all-poor: every patient is *2/*2 (every event raises alerts: the worst case).
 * Usage: npm run bench:processor -- [--rate 2000] [--seconds 15] [--mix population|all-poor]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { childEnv, loadConfig } from '../platform/config.ts';
import { TOPICS, topicName } from '../platform/catalogue.ts';
import type { PgxAlert } from '../platform/events.ts';
import { createKafka } from '../platform/kafka/kafkajs.ts';
import type { OutgoingRecord } from '../platform/kafka/port.ts';
import { createLogger } from '../platform/log.ts';
import { sleep } from '../platform/retry.ts';
import { createSerde } from '../platform/serde.ts';
import { setup } from '../cli/setup.ts';
import { stackOptions } from '../cli/stack.ts';
import * as stack from '../infra/stack/index.ts';
import { diplotypeCalls, genotypes } from '../test/support/pgx-events.ts';

const CLI = fileURLToPath(new URL('../bin/backbone.js', import.meta.url));
const { values } = parseArgs({ options: { rate: { type: 'string', default: '2000' }, seconds: { type: 'string', default: '15' }, mix: { type: 'string', default: 'population' } } });
const MIX: [string, string][] =
  values.mix === 'all-poor' ? [['*2', '*2']] : [['*1', '*1'], ['*1', '*2'], ['*2', '*2'], ['*1', '*17'], ['*17', '*17'], ['*2', '*17'], ['*2', '*3']];
const rate = Number(values.rate);
const seconds = Number(values.seconds);

const base = loadConfig();
if (base.stackMode === 'native') await stack.up({ ...stackOptions(base), log: (l) => console.error(`[stack] ${l}`) });
const runId = randomBytes(4).toString('hex');
const settings: Record<string, string> = {
  BACKBONE_KAFKA_BROKERS: base.kafkaBrokers.join(','),
  BACKBONE_REGISTRY_URL: base.registryUrl,
  BACKBONE_CLICKHOUSE_URL: base.clickhouseUrl,
  BACKBONE_TOPIC_PREFIX: `benchp-${runId}.`,
  BACKBONE_CLICKHOUSE_DATABASE: `benchp_${runId}`,
  BACKBONE_LOG_LEVEL: 'warn',
  BACKBONE_PROCESSOR_BATCH_MAX_MS: String(base.processorBatchMaxMs),
  BACKBONE_PROCESSOR_BATCH_SIZE: String(base.processorBatchSize),
};
const config = loadConfig(settings);
const log = createLogger({ level: 'warn', name: 'bench' });
const kafka = createKafka(config, log, '-bench');
await setup(config, kafka);
const serde = createSerde(config);
const inputTopic = topicName(TOPICS.genotypeCalls, config.topicPrefix);
const panels = MIX.map(([a, b]) => ({ calls: diplotypeCalls('CYP2C19', a, b), alerts: [a, b].some((x) => x === '*2' || x === '*3') }));
const calls = diplotypeCalls('CYP2C19', '*2', '*2');

const sentAt = new Map<string, number>();
const latencies: number[] = [];
const reader = kafka.consumer({ groupId: `bench-reader-${runId}`, topics: [topicName(TOPICS.alerts, config.topicPrefix)], fromBeginning: true, maxBatchSize: 1000, maxBatchMs: 5 });
await reader.start(async (records) => {
  const now = performance.now();
  for (const r of records) {
    const alert = await serde.decode<PgxAlert>(TOPICS.alerts, r.value);
    const t = sentAt.get(alert.patientId);
    if (t !== undefined) {
      latencies.push(now - t);
      sentAt.delete(alert.patientId);
    }
  }
});

const child = spawn(process.execPath, [CLI, 'processor'], { env: childEnv(settings), stdio: ['ignore', 'ignore', 'inherit'] });
const producer = await kafka.producer();
// Warm-up: one patient end to end, so start-up (state replay, group join) is not measured.
const warm = genotypes('PT-WARM', calls);
sentAt.set('PT-WARM', performance.now());
await producer.send(inputTopic, [{ key: warm.patientId, value: await serde.encode(TOPICS.genotypeCalls, warm) }]);
while (sentAt.has('PT-WARM')) await sleep(20);
latencies.length = 0;

const total = rate * seconds;
const tickMs = 10;
const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
const begin = performance.now();
const sends: Promise<void>[] = [];
for (let n = 0, tick = 0; n < total; tick++) {
  const wait = begin + tick * tickMs - performance.now();
  if (wait > 0) await sleep(wait);
  const batch: OutgoingRecord[] = [];
  const ids: string[] = [];
  for (let i = 0; i < perTick && n < total; i++, n++) {
    const panel = panels[n % panels.length]!;
    const e = genotypes(`PT-${runId}-${n}`, panel.calls);
    batch.push({ key: e.patientId, value: await serde.encode(TOPICS.genotypeCalls, e) });
    if (panel.alerts) ids.push(e.patientId);
  }
  sends.push(
    producer.send(inputTopic, batch).then(() => {
      const t = performance.now();
      for (const id of ids) sentAt.set(id, t);
    }),
  );
}
await Promise.all(sends);
const achieved = total / ((performance.now() - begin) / 1000);
const deadline = Date.now() + 60_000;
const expected = Array.from({ length: total }, (_, n) => panels[n % panels.length]!.alerts).filter(Boolean).length;
while (latencies.length < expected && Date.now() < deadline) await sleep(50);
const rss = (() => {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    return m?.[1] === undefined ? Number.NaN : Number(m[1]) / 1024;
  } catch {
    return Number.NaN;
  }
})();
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
await reader.stop();
await producer.close();
latencies.sort((a, b) => a - b);
const q = (p: number): string => (latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] ?? Number.NaN).toFixed(0);
console.log(`pgx processor at ${rate} events/s for ${seconds} s, mix ${values.mix} (achieved ${Math.round(achieved)} events/s; batches ≤ ${config.processorBatchSize} records / ${config.processorBatchMaxMs} ms, one Kafka transaction each):`);
console.log(`  publish-acked → first alert committed and read (${latencies.length}/${expected} alerting patients): p50 ${q(50)} ms, p99 ${q(99)} ms, max ${q(100)} ms`);
console.log(`  processor peak RSS ${rss.toFixed(0)} MB`);
const admin = await kafka.admin();
await admin.deleteTopics((await admin.listTopics()).filter((t) => t.startsWith(config.topicPrefix)));
await admin.close();
process.exit(0);
