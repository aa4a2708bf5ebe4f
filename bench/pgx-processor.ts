/**
 * PGx processor benchmark (prints numbers; not a test): genotype events published at a fixed rate,
 * each a new patient's CYP2C19 panel; latency from publish-acknowledged to the first committed alert
 * for that patient, read by a separate read_committed consumer.
 *   --mix population (default): diplotypes cycle *1/*1, *1/*2, *2/*2, *1/*17, *17/*17, *2/*17, *2/*3,
 *     so 4 in 7 patients (the *2/*3 carriers) get clopidogrel alerts;
 *   --mix all-poor: every patient is *2/*2 (every event raises alerts: the worst case).
 * A warm-up at the same rate (--warmup seconds, not measured) lets the JIT and the broker settle first.
 * Usage: npm run bench:processor -- [--rate 2000] [--seconds 15] [--warmup 5] [--mix population|all-poor] [--cpu-prof DIR]
 *   [--log-level debug] (the processor's log on stdout; debug shows per-batch compute/commit times)
 * Beside each 5 s window's latency it prints what the machine did meanwhile (busy, iowait, steal, MB
 * written back to disk), so that a tail caused by the machine can be told from one caused by the code.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { childEnv, loadConfig } from '../platform/config.ts';
import { TOPICS, topicName } from '../platform/catalogue.ts';
import type { PgxAlert } from '../platform/events.ts';
import { createKafka } from '../platform/kafka/kafkajs.ts';
import { createLogger } from '../platform/log.ts';
import { sleep } from '../platform/retry.ts';
import { createSerde } from '../platform/serde.ts';
import { setup } from '../cli/setup.ts';
import { stackOptions } from '../cli/stack.ts';
import * as stack from '../infra/stack/index.ts';
import { diplotypeCalls, genotypes } from '../test/support/pgx-events.ts';
import { cpuProfileFlags, describeMachine, isolatedSettings, machineSample, publishAtRate, rateMeter, summary, windows } from './support.ts';
import { fromRoot } from '../platform/paths.ts';
import { peakRssMb } from '../platform/memory.ts';

const CLI = fromRoot('bin', 'backbone.js');
const { values } = parseArgs({
  options: { rate: { type: 'string', default: '2000' }, seconds: { type: 'string', default: '15' }, warmup: { type: 'string', default: '5' }, mix: { type: 'string', default: 'population' }, 'cpu-prof': { type: 'string' }, 'log-level': { type: 'string', default: 'warn' } },
});
const MIX: [string, string][] =
  values.mix === 'all-poor' ? [['*2', '*2']] : [['*1', '*1'], ['*1', '*2'], ['*2', '*2'], ['*1', '*17'], ['*17', '*17'], ['*2', '*17'], ['*2', '*3']];
const rate = Number(values.rate);
const seconds = Number(values.seconds);

const base = loadConfig();
if (base.stackMode === 'native') await stack.up({ ...stackOptions(base), log: (l) => console.error(`[stack] ${l}`) });
const runId = randomBytes(4).toString('hex');
const settings = isolatedSettings(base, 'benchp', runId, values['log-level']);
const config = loadConfig(settings);
const log = createLogger({ level: 'warn', name: 'bench' });
const kafka = createKafka(config, log, '-bench');
await setup(config, kafka);
const serde = createSerde(config);
const inputTopic = topicName(TOPICS.genotypeCalls, config.topicPrefix);
const panels = MIX.map(([a, b]) => ({ calls: diplotypeCalls('CYP2C19', a, b), alerts: [a, b].some((x) => x === '*2' || x === '*3') }));
const calls = diplotypeCalls('CYP2C19', '*2', '*2');

// The reader reports to the meter of the phase being run (warm-up or measured).
let meter = rateMeter();
let warmedUp = false;
const reader = kafka.consumer({ groupId: `bench-reader-${runId}`, topics: [topicName(TOPICS.alerts, config.topicPrefix)], fromBeginning: true, maxBatchSize: 1000, maxBatchMs: 5 });
await reader.start(async (records) => {
  for (const r of records) {
    const alert = await serde.decode<PgxAlert>(TOPICS.alerts, r.value);
    if (alert.patientId === 'PT-WARM') warmedUp = true;
    else meter.see(alert.patientId);
  }
});

// --cpu-prof DIR: the processor writes a V8 CPU profile there when it stops.
const child = spawn(process.execPath, [...cpuProfileFlags(values['cpu-prof']), CLI, 'processor'], { env: childEnv(settings), stdio: ['ignore', 'inherit', 'inherit'] });
const producer = await kafka.producer();
// Warm-up: one patient end to end, so start-up (state replay, group join) is not measured.
const warm = genotypes('PT-WARM', calls);
await producer.send(inputTopic, [{ key: warm.patientId, value: await serde.encode(TOPICS.genotypeCalls, warm) }]);
while (!warmedUp) await sleep(20);

const run = (label: string, seconds: number) => {
  meter = rateMeter();
  return publishAtRate(
    {
      rate,
      seconds,
      make: async (n) => {
        const panel = panels[n % panels.length]!;
        const e = genotypes(`PT-${runId}-${label}-${n}`, panel.calls);
        return { record: { key: e.patientId, value: await serde.encode(TOPICS.genotypeCalls, e) }, ...(panel.alerts ? { watch: e.patientId } : {}) };
      },
      send: (records) => producer.send(inputTopic, records),
    },
    meter,
  );
};
// Dirty pages of earlier work (a VCF benchmark writes GBs) are written back now, not in the middle
// of the measurement: a writeback burst stalls the broker's appends for hundreds of ms.
spawnSync('sync');
if (Number(values.warmup) > 0) await run('warmup', Number(values.warmup));
// The machine's counters every 5 s of the measurement, printed beside the latency of each window.
const samples = [machineSample()];
const sampler = setInterval(() => samples.push(machineSample()), 5000);
const { latencies, watched, achieved } = await run('measure', seconds);
clearInterval(sampler);
if (samples.length <= Math.ceil(seconds / 5)) samples.push(machineSample()); // the last, shorter window
const measured = meter; // run() made a new meter for the measured phase
const rss = (child.pid === undefined ? undefined : peakRssMb(child.pid)) ?? Number.NaN;
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
await reader.stop();
await producer.close();
console.log(`pgx processor at ${rate} events/s for ${seconds} s, mix ${values.mix} (achieved ${Math.round(achieved)} events/s; batches ≤ ${config.processorBatchSize} records / ${config.processorBatchMaxMs} ms, one Kafka transaction each):`);
console.log(`  publish-acked → first alert committed and read (${latencies.length}/${watched} alerting patients): ${summary(latencies)}`);
console.log(`  by 5 s of sending (ms): ${windows(measured.timeline, 5000)}`);
console.log(`  the machine in those windows: ${samples.slice(1).map((s, i) => `${i * 5}-${i * 5 + 5} s: ${describeMachine(samples[i], s)}`).join(' | ')}`);
console.log(`  processor peak RSS ${rss.toFixed(0)} MB`);
const admin = await kafka.admin();
await admin.deleteTopics((await admin.listTopics()).filter((t) => t.startsWith(config.topicPrefix)));
await admin.close();
process.exit(0);
