/**
 * `backbone demo`: the end-to-end slice on the committed demo data. Starts the native stack (unless
 * BACKBONE_STACK=external), sets up topics/schemas/tables, runs the variant sink, publishes the demo
 * files, waits until the sink has caught up, and prints what an analyst would query.
 */
import { readFile } from 'node:fs/promises';
import { publishEventsFile } from '../connectors/events-file/runner.ts';
import { publishVcf } from '../connectors/vcf/runner.ts';
import { parseSampleMap } from '../connectors/vcf/samples.ts';
import * as stack from '../infra/stack/index.ts';
import { TOPICS, entry, topicName } from '../platform/catalogue.ts';
import { createClickHouse, queryRows } from '../platform/clickhouse/client.ts';
import type { Config } from '../platform/config.ts';
import type { DeadLetter } from '../platform/events.ts';
import { createKafka } from '../platform/kafka/kafkajs.ts';
import { waitForLag } from '../platform/kafka/lag.ts';
import type { IncomingRecord, KafkaPort } from '../platform/kafka/port.ts';
import { replayTopic } from '../platform/kafka/replay.ts';
import { Lifecycle } from '../platform/lifecycle.ts';
import { createLogger } from '../platform/log.ts';
import { sleep } from '../platform/retry.ts';
import { createSerde } from '../platform/serde.ts';
import { startPgxProcessor } from '../services/pgx-processor/runner.ts';
import type { Card } from '../services/point-of-care/cds.ts';
import { WATCHED } from '../services/point-of-care/health.ts';
import { startVariantSink } from '../services/variant-sink/runner.ts';
import { cdsOrderSign, startServe, startViewsSink } from './serve.ts';
import { setup } from './setup.ts';
import { stackOptions } from './stack.ts';
import { fromRoot } from '../platform/paths.ts';

const DEMO_DIR = `${fromRoot('demo')}/`;

/** Dead letters written since `since`, read from the start of the topic to its current end. */
async function deadLettersSince(kafka: KafkaPort, config: Config, since: number): Promise<DeadLetter[]> {
  const serde = createSerde(config);
  const records: IncomingRecord[] = [];
  await replayTopic(kafka, topicName(TOPICS.deadLetter, config.topicPrefix), (batch) => {
    records.push(...batch);
  });
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
    title: 'PGx profiles that are not plain reference (pgx_profiles: current per patient and gene)',
    sql: `SELECT patient_id, gene, status, source, arrayStringConcat(diplotypes, ' | ') AS diplotypes, phenotype, activity_score
FROM pgx_profiles
WHERE NOT (status = 'CALLED' AND ifNull(phenotype, '') IN ('Normal Metabolizer', 'Normal Function', '-1639 GG'))
ORDER BY patient_id, gene`,
  },
  {
    title: 'Active PGx alerts (pgx_alerts_active)',
    sql: `SELECT patient_id, drug, classification, ifNull(population, '') AS population, mapStringsJoin AS phenotypes
FROM (SELECT *, arrayStringConcat(arrayMap((k, v) -> concat(k, ': ', v), mapKeys(phenotypes), mapValues(phenotypes)), ', ') AS mapStringsJoin FROM pgx_alerts_active)
ORDER BY patient_id, drug, population`,
  },
  {
    title: 'Cohort: CYP2C19 phenotypes (pgx_cohort_counts, kept by a materialized view)',
    sql: `SELECT phenotype, sum(patients) AS patients FROM pgx_cohort_counts
WHERE gene = {gene:String} GROUP BY phenotype ORDER BY patients DESC`,
  },
  {
    title: 'Genotype calls that are not hom-ref, per chromosome and zygosity (variant_calls_current)',
    sql: `SELECT chrom, zygosity, count() AS calls, uniqExact(patient_id) AS patients
FROM variant_calls_current WHERE zygosity != 'hom_ref'
GROUP BY chrom, zygosity ORDER BY length(chrom), chrom, zygosity`,
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

  say('▶ starting the services: variant sink, PGx processor, views sink, point of care (read API, CDS Hooks, page)');
  const life = new Lifecycle(log);
  try {
    const sink = life.add('variant sink', await startVariantSink(config, log), (s) => s.stop());
    const processor = life.add('pgx processor', await startPgxProcessor(config, log), (p) => p.stop());
    life.add('views sink', await startViewsSink(config, log), (s) => s.stop());
    const serve = life.add('point of care', await startServe(config, log, { devIssuer: true }), (s) => s.stop());

    const vcf = `${DEMO_DIR}pgx-panel.vcf`;
    const mapping = parseSampleMap(await readFile(`${DEMO_DIR}samples.tsv`, 'utf8'), 'demo/samples.tsv');
    const summary = await publishVcf({ config, log, kafka }, vcf, { mapping, lab: 'Genomics Core Lab' });
    say(`▶ published demo/pgx-panel.vcf (${summary.assembly}, ${summary.samples} samples → pseudonymous patients): ${summary.records} records, ${summary.events} events, ${summary.calls} calls, ${summary.deadLettered} dead-lettered`);
    const outsideCalls = await publishEventsFile(config, log, kafka, `${DEMO_DIR}outside-calls.jsonl`, 'outside-calls', { lab: 'Genomics Core Lab' });
    say(`▶ published demo/outside-calls.jsonl (lab-reported CYP2D6 and HLA-B results): ${outsideCalls.events} events`);

    // The stages the health page watches, less webhook delivery (it starts from the newest alert).
    // A processor that stopped for good (a transaction that failed after its retries) ends the demo
    // with its error instead of a lag timeout.
    const caughtUp = (async () => {
      for (const { stage, topics } of WATCHED.filter((w) => w.stage !== 'webhooks')) {
        const group = `${config.topicPrefix}backbone.${stage}`;
        for (const topic of topics) await waitForLag(kafka, group, topicName(topic, config.topicPrefix), 120_000, entry(topic).transactional);
      }
    })();
    await Promise.race([caughtUp, processor.failed]);
    say(`▶ pipeline caught up: variant sink wrote ${sink.stats.rows} rows; profiles and alerts computed and in the views`);

    const clickhouse = createClickHouse(config);
    try {
      for (const q of ANALYST_QUERIES) {
        say(`\n── ${q.title}\n  ${q.sql.replaceAll('\n', '\n  ')}\n`);
        say(table(await queryRows<Record<string, unknown>>(clickhouse, q.sql, { gene: 'CYP2C19' })));
      }
    } finally {
      await clickhouse.close();
    }

    const dlq = topicName(TOPICS.deadLetter, config.topicPrefix);
    say(`\n── Dead letters of this run (topic ${dlq})\n`);
    for (const d of await deadLettersSince(kafka, config, demoStarted)) {
      say(`  ${d.stage.padEnd(13)} ${d.sourceRef ?? `${d.sourceTopic}[${d.sourcePartition}]@${d.sourceOffset}`}\n                ${d.reason}`);
    }

    // The point of care: a prescriber signs a clopidogrel order for PT-0002 (CYP2C19 *2/*2).
    const cdsToken = serve.cdsToken === undefined ? '' : await serve.cdsToken();
    const cards = await waitForCards(serve.url, cdsToken, serve.cdsToken);
    say(`\n── CDS Hooks order-sign: clopidogrel (RxNorm 32968) for PT-0002 → ${cards.length} card(s)\n`);
    for (const card of cards) say(formatCard(card));

    const token = serve.userToken === undefined ? '' : await serve.userToken(['clinician']);
    say(`\nPage: ${serve.url}/?patient=PT-0002 (clinician token, dev issuer, valid 12 h):\n  ${token}`);
    say(`Read API: curl -H 'authorization: Bearer <token>' ${serve.url}/api/patients/PT-0002/profile`);
    say(`Analyst SQL: curl '${config.clickhouseUrl}/?database=${config.clickhouseDatabase}' --data-binary 'SELECT * FROM pgx_alerts_active'`);
    say('Re-running the demo re-sends the same files: deterministic ids, so no count and no alert changes.');
    if (process.stdout.isTTY) {
      say('\nServing until Ctrl-C (the stack keeps running; stop it with: npm run stack -- down)');
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    } else {
      say('Stop the stack with: npm run stack -- down');
    }
  } finally {
    await life.stop();
  }
  return 0;
}

/** The card appears once the alert has reached the point-of-care state; wait for it, briefly. */
async function waitForCards(url: string, firstToken: string, nextToken: (() => Promise<string>) | undefined): Promise<Card[]> {
  const deadline = Date.now() + 30_000;
  let token = firstToken;
  for (;;) {
    const cards = await cdsOrderSign(url, token, 'PT-0002', [{ rxnorm: '32968', display: 'clopidogrel 75 MG Oral Tablet' }]);
    if (cards.length > 0 || Date.now() > deadline || nextToken === undefined) return cards;
    await sleep(200);
    token = await nextToken(); // tokens are single-use (jti)
  }
}

function formatCard(card: Card): string {
  const lines = [`  [${card.indicator.toUpperCase()}] ${card.summary}`];
  if (card.detail !== undefined) lines.push(...card.detail.split('\n').map((l) => `    ${l}`));
  for (const link of card.links ?? []) lines.push(`    ↗ ${link.label}: ${link.url}`);
  for (const s of card.suggestions ?? []) lines.push(`    ✎ suggestion: ${s.label}`);
  lines.push(`    source: ${card.source.label}${card.source.url === undefined ? '' : ` (${card.source.url})`}`);
  return lines.join('\n');
}
