/**
 * Foundation benchmark (prints numbers; not a test):
 *  1. produce throughput: Avro-encode and publish genotype events with acks=all, as fast as they go;
 *  2. freshness: publish at a fixed rate to a sink running in its own process and measure
 *     publish → row visible in ClickHouse (p50/p99/max), by polling for sampled events and from
 *     the server-side insert time of every row;
 *  3. peak RSS of the sink process, this process and the servers.
 * Runs in its own topic prefix and database on the running stack (started if needed).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { childEnv, loadConfig, type Config } from '../platform/config.ts';
import { TOPICS, topicName } from '../platform/catalogue.ts';
import { createClickHouse, queryRows } from '../platform/clickhouse/client.ts';
import type { GenotypeCallSet } from '../platform/events.ts';
import { createKafka } from '../platform/kafka/kafkajs.ts';
import type { OutgoingRecord } from '../platform/kafka/port.ts';
import { createLogger } from '../platform/log.ts';
import { fromRoot } from '../platform/paths.ts';
import { createSerde } from '../platform/serde.ts';
import { setup } from '../cli/setup.ts';
import { stackOptions } from '../cli/stack.ts';
import { waitForLag } from '../platform/kafka/lag.ts';
import { SINK_STAGE } from '../services/variant-sink/runner.ts';
import * as stack from '../infra/stack/index.ts';
import { isolatedSettings, publishAtRate, summary } from './support.ts';
import { peakRssMb } from '../platform/memory.ts';

// From the project root: this module also runs compiled into .build/ (`backbone bench`).
const CLI = fromRoot('bin', 'backbone.js');

function event(n: number, runId: string): GenotypeCallSet {
  const patient = `PT-${String(n % 5000).padStart(6, '0')}`;
  return {
    eventId: `${runId}-${n}`,
    patientId: patient,
    sampleId: `SM-${patient.slice(3)}`,
    sourceKind: 'VCF',
    assembly: 'GRCh38',
    calls: [
      {
        chrom: '10',
        pos: 94781859,
        ref: 'G',
        alts: ['A'],
        gt: [0, n % 4 === 0 ? 1 : 0],
        phased: false,
        phaseSet: null,
        depth: 38,
        genotypeQuality: 99,
        quality: 911.2,
        filters: ['PASS'],
        variantId: 'rs4244285',
        gene: 'CYP2C19',
        recordRef: `bench.vcf:line ${n}`,
      },
    ],
    lineage: { sourceId: `bench/${runId}`, sourceSha256: 'b'.repeat(64), lab: 'Bench Lab', ingestedAt: Date.now(), connector: 'bench', pipelineVersion: '0.1.0' },
  };
}

export async function benchCommand(args: string[], baseConfig: Config): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      rate: { type: 'string', default: '2000' },
      seconds: { type: 'string', default: '20' },
      events: { type: 'string', default: '200000' },
    },
  });
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const throughputEvents = Number(values.events);
  const runId = randomBytes(4).toString('hex');
  if (baseConfig.stackMode === 'native') await stack.up({ ...stackOptions(baseConfig), log: (l) => console.error(`[stack] ${l}`) });
  const env = isolatedSettings(baseConfig, 'bench', runId);
  const config = loadConfig(env);
  const log = createLogger({ level: 'warn', name: 'bench' });
  const kafka = createKafka(config, log, '-bench');
  await setup(config, kafka);
  const serde = createSerde(config);
  const topic = topicName(TOPICS.genotypeCalls, config.topicPrefix);
  const producer = await kafka.producer();

  // 1. Throughput: encode + produce, batches of 1,000 with a few batches in flight.
  {
    const warm = await serde.encode(TOPICS.genotypeCalls, event(0, runId));
    console.log(`event size: ${warm.length} bytes (Avro, wire format)`);
    const started = performance.now();
    const inFlight: Promise<void>[] = [];
    for (let start = 0; start < throughputEvents; start += 1000) {
      const batch: OutgoingRecord[] = [];
      for (let n = start; n < Math.min(start + 1000, throughputEvents); n++) {
        const e = event(n, `${runId}-t`);
        batch.push({ key: e.patientId, value: await serde.encode(TOPICS.genotypeCalls, e) });
      }
      inFlight.push(producer.send(`${topic}`, batch));
      if (inFlight.length >= 4) await inFlight.shift();
    }
    await Promise.all(inFlight);
    const s = (performance.now() - started) / 1000;
    console.log(`produce throughput: ${throughputEvents} events in ${s.toFixed(2)} s = ${Math.round(throughputEvents / s)} events/s (Avro-encoded, acks=all, idempotent)`);
  }

  // The sink catches up on the throughput events first, so freshness is measured in steady state.
  const sink = spawn(process.execPath, [CLI, 'sink'], { env: childEnv(env), stdio: ['ignore', 'ignore', 'inherit'] });
  const group = `${config.topicPrefix}backbone.${SINK_STAGE}`;
  const catchUpStart = performance.now();
  await waitForLag(kafka, group, topic, 600_000);
  const catchUp = (performance.now() - catchUpStart) / 1000;
  console.log(`sink catch-up: ${throughputEvents} events into ClickHouse in ${catchUp.toFixed(2)} s = ${Math.round(throughputEvents / catchUp)} events/s`);

  // 2. Freshness at a fixed rate. Every 50th event is watched from outside by polling ClickHouse.
  const clickhouse = createClickHouse(config);
  const { latencies, achieved } = await publishAtRate({
    rate,
    seconds,
    make: async (n) => {
      const e = event(n, `${runId}-f`);
      return { record: { key: e.patientId, value: await serde.encode(TOPICS.genotypeCalls, e) }, ...(n % 50 === 0 ? { watch: e.eventId } : {}) };
    },
    send: (records) => producer.send(topic, records),
    visible: async (ids) =>
      (await queryRows<{ event_id: string }>(clickhouse, 'SELECT event_id FROM variant_calls WHERE event_id IN {ids:Array(String)}', { ids })).map((r) => r.event_id),
  });
  await waitForLag(kafka, group, topic, 120_000);
  const [server] = await queryRows<{ p50: number; p99: number; max: number; rows: string }>(
    clickhouse,
    `SELECT quantileExact(0.5)(d) AS p50, quantileExact(0.99)(d) AS p99, max(d) AS max, count() AS rows
     FROM (SELECT toUnixTimestamp64Milli(inserted_at) - toUnixTimestamp64Milli(published_at) AS d FROM variant_calls WHERE event_id LIKE {p:String})`,
    { p: `${runId}-f-%` },
  );
  console.log(`freshness at ${rate} events/s for ${seconds} s (achieved ${Math.round(achieved)} events/s, sink batches ≤ ${config.sinkBatchSize} rows / ${config.sinkBatchMaxMs} ms):`);
  console.log(`  publish-acked → visible to a polling reader (${latencies.length} sampled events): ${summary(latencies)}`);
  console.log(`  record timestamp → server insert time (all ${server?.rows ?? 0} rows): p50 ${server?.p50 ?? '?'} ms, p99 ${server?.p99 ?? '?'} ms, max ${server?.max ?? '?'} ms`);

  // 3. Memory.
  const sinkRss = (sink.pid === undefined ? undefined : peakRssMb(sink.pid));
  sink.kill('SIGTERM');
  await new Promise((r) => sink.once('exit', r));
  console.log(`peak RSS: sink process ${sinkRss?.toFixed(0) ?? '?'} MB, bench process ${(peakRssMb() ?? process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
  if (baseConfig.stackMode === 'native') {
    for (const s of await stack.status(stackOptions(baseConfig))) {
      const rss = s.pid === undefined ? undefined : peakRssMb(s.pid);
      console.log(`  ${s.name}: peak RSS ${rss?.toFixed(0) ?? '?'} MB`);
    }
  }
  await producer.close();
  await clickhouse.close();
  // Leave nothing behind: the bench's topics and database are its own.
  const admin = await kafka.admin();
  await admin.deleteTopics((await admin.listTopics()).filter((t) => t.startsWith(config.topicPrefix)));
  await admin.close();
  const root = createClickHouse(config, 'default');
  await root.command({ query: `DROP DATABASE IF EXISTS ${config.clickhouseDatabase}` });
  await root.close();
  return 0;
}
