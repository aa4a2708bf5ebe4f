/**
 * `backbone demo`: the end-to-end slice on the committed demo data. Starts the native stack (unless
 * BACKBONE_STACK=external), sets up topics/schemas/tables, runs the variant sink, publishes the demo
 * files, waits until the sink has caught up, and prints what an analyst would query.
 */
import { fileURLToPath } from 'node:url';
import type { Config } from '../platform/config.ts';
import { TOPICS, topicName } from '../platform/catalogue.ts';
import { createClickHouse, queryRows } from '../platform/clickhouse/client.ts';
import { DependencyError } from '../platform/errors.ts';
import { createKafka } from '../platform/kafka/kafkajs.ts';
import type { IncomingRecord, KafkaPort } from '../platform/kafka/port.ts';
import type { DeadLetter } from '../platform/events.ts';
import { createSerde } from '../platform/serde.ts';
import { randomBytes } from 'node:crypto';
import { createLogger } from '../platform/log.ts';
import { sleep } from '../platform/retry.ts';
import { publishEventsFile } from '../connectors/events-file/runner.ts';
import { SINK_STAGE, startVariantSink } from '../services/variant-sink/runner.ts';
import { setup } from './setup.ts';
import * as stack from '../infra/stack/index.ts';
import { stackOptions } from './stack.ts';

const DEMO_DIR = fileURLToPath(new URL('../demo/', import.meta.url));

/** Total lag of a consumer group on a topic: records written but not yet committed by the group. */
export async function groupLag(kafka: KafkaPort, groupId: string, topic: string): Promise<bigint> {
  const admin = await kafka.admin();
  try {
    const [high, committed] = await Promise.all([admin.topicOffsets(topic), admin.groupOffsets(groupId, topic)]);
    const done = new Map(committed.map((c) => [c.partition, BigInt(c.offset)]));
    return high.reduce((lag, p) => {
      const at = done.get(p.partition) ?? -1n;
      const from = at < 0n ? BigInt(p.low) : at;
      return lag + (BigInt(p.high) - from);
    }, 0n);
  } finally {
    await admin.close();
  }
}

export async function waitForLag(kafka: KafkaPort, groupId: string, topic: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lag = await groupLag(kafka, groupId, topic);
    if (lag === 0n) return;
    if (Date.now() > deadline) throw new DependencyError(SINK_STAGE, `still ${lag} records behind after ${timeoutMs / 1000} s`, { retriable: false });
    await sleep(100);
  }
}

/** Dead letters written since `since`, read from the beginning of the topic by a throwaway group. */
async function deadLettersSince(kafka: KafkaPort, config: Config, since: number): Promise<DeadLetter[]> {
  const topic = topicName(TOPICS.deadLetter, config.topicPrefix);
  const admin = await kafka.admin();
  const offsets = await admin.topicOffsets(topic).finally(() => admin.close());
  const total = offsets.reduce((n, o) => n + Number(BigInt(o.high) - BigInt(o.low)), 0);
  const serde = createSerde(config);
  const records: IncomingRecord[] = [];
  const reader = kafka.consumer({ groupId: `demo-reader-${randomBytes(4).toString('hex')}`, topics: [topic], fromBeginning: true, maxBatchSize: 500, maxBatchMs: 50 });
  await reader.start(async (batch) => {
    records.push(...batch);
  });
  const deadline = Date.now() + 15_000;
  while (records.length < total && Date.now() < deadline) await sleep(50);
  await reader.stop();
  const letters = await Promise.all(records.map((r) => serde.decode<DeadLetter>(TOPICS.deadLetter, r.value)));
  return letters.filter((d) => d.failedAt >= since).sort((a, b) => a.failedAt - b.failedAt);
}

function table(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return '  (no rows)';
  const cols = Object.keys(rows[0] ?? {});
  const cell = (v: unknown): string => (v === null ? '∅' : typeof v === 'string' ? v : JSON.stringify(v));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]): string => `  ${vals.map((v, i) => v.padEnd(widths[i] ?? 0)).join('  ')}`;
  return [line(cols), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))].join('\n');
}

const ANALYST_QUERIES: { title: string; sql: string }[] = [
  {
    title: 'Genotype calls per gene and zygosity (current, deduplicated)',
    sql: `SELECT gene, zygosity, count() AS calls, uniqExact(patient_id) AS patients
FROM variant_calls_current WHERE gene IS NOT NULL
GROUP BY gene, zygosity ORDER BY gene, zygosity`,
  },
  {
    title: 'Patients carrying CYP2C19 rs4244285 (*2), with lineage',
    sql: `SELECT patient_id, gt, zygosity, depth, lab, source_id, pipeline_version
FROM variant_calls_current
WHERE gene = {gene:String} AND variant_id = {rsid:String} AND has(gt, 1)
ORDER BY patient_id`,
  },
  {
    title: 'Positions not tested (missing genotype) — "not tested" is not "reference"',
    sql: `SELECT patient_id, gene, variant_id, gt, zygosity FROM variant_calls_current
WHERE zygosity IN ('no_call', 'partial') ORDER BY patient_id`,
  },
];

export async function demoCommand(config: Config): Promise<number> {
  const log = createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel, name: 'demo' });
  const say = (s: string): void => console.log(s);
  const demoStarted = Date.now();
  if (config.stackMode === 'native') {
    say('▶ starting the native stack (first run downloads Kafka, the schema registry and ClickHouse)…');
    for (const s of await stack.up({ ...stackOptions(config), log: (line) => say(`  ${line}`) })) say(`  ${s.name.padEnd(10)} ${s.state} at ${s.url}`);
  }
  const kafka = createKafka(config, log, '-demo');
  say('▶ setup: topics, schemas (BACKWARD), ClickHouse migrations');
  const report = await setup(config, kafka);
  say(`  ${report.subjects.length} schemas registered; ${report.createdTopics.length} topics created; migrations: ${report.migrations.join(', ') || 'up to date'}`);

  say('▶ starting the variant sink (Kafka → ClickHouse, offsets committed after each insert)');
  const sink = await startVariantSink(config, log);
  try {
    for (const [file, kind] of [['genotype-calls.jsonl', 'genotype-calls'], ['outside-calls.jsonl', 'outside-calls']] as const) {
      const s = await publishEventsFile(config, log, kafka, `${DEMO_DIR}${file}`, kind, { lab: 'Genomics Core Lab' });
      say(`▶ published demo/${file}: ${s.events} events, ${s.deadLettered} dead-lettered (invalid lines)`);
    }
    const group = `${config.topicPrefix}backbone.${SINK_STAGE}`;
    await waitForLag(kafka, group, topicName(TOPICS.genotypeCalls, config.topicPrefix), 60_000);
    say(`▶ sink caught up: ${sink.stats.records} events read, ${sink.stats.rows} rows written, ${sink.stats.deadLettered} dead-lettered this run`);
  } finally {
    await sink.stop();
  }

  const clickhouse = createClickHouse(config);
  try {
    for (const q of ANALYST_QUERIES) {
      say(`\n── ${q.title}\n  ${q.sql.replaceAll('\n', '\n  ')}\n`);
      say(table(await queryRows<Record<string, unknown>>(clickhouse, q.sql, { gene: 'CYP2C19', rsid: 'rs4244285' })));
    }
  } finally {
    await clickhouse.close();
  }
  const dlq = topicName(TOPICS.deadLetter, config.topicPrefix);
  say(`\n── Dead letters of this run (topic ${dlq})\n`);
  for (const d of await deadLettersSince(kafka, config, demoStarted)) {
    say(`  ${d.stage.padEnd(13)} ${d.sourceRef ?? `${d.sourceTopic}[${d.sourcePartition}]@${d.sourceOffset}`}\n                ${d.reason}`);
  }
  say('\nRe-running the demo re-sends the same files and changes no counts (deterministic event ids).');
  say(`Query it yourself: curl '${config.clickhouseUrl}/?database=${config.clickhouseDatabase}' --data-binary 'SELECT count() FROM variant_calls_current'`);
  say("Stop the stack with: npm run stack -- down");
  return 0;
}
