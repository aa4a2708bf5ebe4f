/**
 * Point-of-care benchmark (prints numbers; not a test). Servers run in their own processes
 * (`backbone serve`, `backbone views-sink`); load comes from this process:
 *  1. read API GET /api/patients/{id}/profile and CDS Hooks order-sign at a fixed rate, open loop
 *     (bench/load.ts: evenly spaced requests, latency from when each was due): p50/p99/p99.9/max,
 *     errors, non-2xx;
 *  2. event published → row visible in the ClickHouse views at a fixed event rate (sampled polling,
 *     and record timestamp → server insert time for every row);
 *  3. event published → card changes at CDS Hooks (alternating ACTIVE/WITHDRAWN alerts).
 * Runs in its own topic prefix and database on the running stack (started if needed).
 *   node --import tsx bench/poc.ts [--rps 1000] [--seconds 15] [--rate 2000] [--fresh-seconds 15] [--changes 100] [--cpu-prof DIR]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { childEnv, loadConfig } from '../platform/config.ts';
import { createLocalIssuer } from '../platform/auth/jwt.ts';
import { TOPICS, topicName } from '../platform/catalogue.ts';
import { createClickHouse, queryRows } from '../platform/clickhouse/client.ts';
import { sinkGroupId } from '../platform/clickhouse/sink.ts';
import { createKafka } from '../platform/kafka/kafkajs.ts';
import type { OutgoingRecord } from '../platform/kafka/port.ts';
import { createLogger } from '../platform/log.ts';
import { sleep } from '../platform/retry.ts';
import { createSerde } from '../platform/serde.ts';
import { setup } from '../cli/setup.ts';
import { stackOptions } from '../cli/stack.ts';
import { waitForLag } from '../platform/kafka/lag.ts';
import { openLoop, type OpenLoopOptions } from './load.ts';
import { cpuProfileFlags, isolatedSettings, percentile, publishAtRate, summary } from './support.ts';
import * as stack from '../infra/stack/index.ts';
import { cdsRequest } from '../services/point-of-care/client.ts';
import { VIEWS_STAGE } from '../services/views-sink/runner.ts';
import { alertEvent, profileEvent } from './poc-events.ts';
import { fromRoot } from '../platform/paths.ts';

const CLI = fromRoot('bin', 'backbone.js');
const CLOPIDOGREL = { rxnorm: '32968', display: 'clopidogrel 75 MG Oral Tablet' };
const PHENOTYPES = [['*1/*1', 'Normal Metabolizer'], ['*1/*2', 'Intermediate Metabolizer'], ['*2/*2', 'Poor Metabolizer'], ['*1/*17', 'Rapid Metabolizer']] as const;


function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}

async function load(title: string, options: OpenLoopOptions): Promise<void> {
  const r = await openLoop(options);
  const l = r.latencies;
  console.log(
    `${title}: ${r.sent} requests in ${r.seconds.toFixed(1)} s (${Math.round(r.sent / r.seconds)}/s, ${r.connections} connections): latency p50 ${percentile(l, 50).toFixed(2)} ms, p99 ${percentile(l, 99).toFixed(2)} ms, p99.9 ${percentile(l, 99.9).toFixed(2)} ms, max ${(l.at(-1) ?? Number.NaN).toFixed(1)} ms; errors ${r.errors}, timeouts ${r.timeouts}, non-2xx ${r.non2xx}`,
  );
}

const { values } = parseArgs({
  options: {
    rps: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '15' },
    rate: { type: 'string', default: '2000' },
    'fresh-seconds': { type: 'string', default: '15' },
    changes: { type: 'string', default: '100' },
    'cpu-prof': { type: 'string' },
  },
});
const rps = Number(values.rps);
const seconds = Number(values.seconds);
const rate = Number(values.rate);
const freshSeconds = Number(values['fresh-seconds']);
const changes = Number(values.changes);

const base = loadConfig();
if (base.stackMode === 'native') await stack.up({ ...stackOptions(base), log: (l) => console.error(`[stack] ${l}`) });
const runId = randomBytes(4).toString('hex');
const issuer = await createLocalIssuer('https://bench-idp.test', 'ES256');
const jwks = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(issuer.jwks)));
await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
const jwksAddress = jwks.address();
const jwksUrl = `http://127.0.0.1:${typeof jwksAddress === 'object' && jwksAddress !== null ? jwksAddress.port : 0}/jwks.json`;
const servePort = 18_000 + Math.floor(Math.random() * 1000);
const env: Record<string, string> = {
  ...isolatedSettings(base, 'bench-poc', runId),
  BACKBONE_SERVE_PORT: String(servePort),
  BACKBONE_AUTH_ISSUERS: `https://bench-idp.test=${jwksUrl}`,
  BACKBONE_CDS_CLIENTS: `https://bench-idp.test=${jwksUrl}`,
};
const config = loadConfig(env);
const log = createLogger({ level: 'warn', name: 'bench-poc' });
const kafka = createKafka(config, log, '-bench-poc');
await setup(config, kafka);
const serde = createSerde(config);
const producer = await kafka.producer();
const profilesTopic = topicName(TOPICS.profiles, config.topicPrefix);
const alertsTopic = topicName(TOPICS.alerts, config.topicPrefix);

// A population of 5,000 patients with CYP2C19 profiles, and clopidogrel alerts for the poor metabolizers.
const PATIENTS = 5_000;
for (let start = 0; start < PATIENTS; start += 1000) {
  const profiles: OutgoingRecord[] = [];
  const alerts: OutgoingRecord[] = [];
  for (let n = start; n < start + 1000; n++) {
    const id = `PT-${String(n).padStart(6, '0')}`;
    const [dip, phen] = PHENOTYPES[n % PHENOTYPES.length]!;
    profiles.push({ key: `${id}|CYP2C19`, value: await serde.encode(TOPICS.profiles, profileEvent(id, 'CYP2C19', { diplotype: dip, phenotype: phen })) });
    if (phen === 'Poor Metabolizer') alerts.push({ key: id, value: await serde.encode(TOPICS.alerts, alertEvent(id)) });
  }
  await producer.send(profilesTopic, profiles);
  await producer.send(alertsTopic, alerts);
}

// --cpu-prof DIR: the server writes a V8 CPU profile there when it stops (to see where request time goes).
const serve = spawn(process.execPath, [...cpuProfileFlags(values['cpu-prof']), CLI, 'serve'], { env: childEnv(env), stdio: ['ignore', 'pipe', 'inherit'] });
await new Promise<void>((resolve, reject) => {
  serve.stdout?.on('data', (chunk: Buffer) => {
    if (chunk.toString().includes('serving on')) resolve();
  });
  serve.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
});
const url = `http://127.0.0.1:${servePort}`;
console.log(`serve: ${url} (own process, ${PATIENTS} patients loaded); load from this process at ${rps} requests/s for ${seconds} s`);

// 1. Read API and order-sign.
const clinician = await issuer.sign({ sub: 'bench-clinician', aud: config.authAudience, roles: ['clinician'], ttlSeconds: 3600 });
const patients = Array.from({ length: 200 }, (_, i) => `PT-${String(i * 7).padStart(6, '0')}`);
const read = (duration: number): OpenLoopOptions => ({
  url,
  rate: rps,
  seconds: duration,
  request: (i) => ({ method: 'GET', path: `/api/patients/${patients[i % patients.length]}/profile`, headers: { authorization: `Bearer ${clinician}` } }),
});
await load('warm-up read API', read(3));
await load('read API GET /api/patients/{id}/profile', read(seconds));
// Every CDS call carries a fresh single-use token (jti), signed in advance so signing is not measured.
const audience = `${config.publicUrl}/cds-services/pgx-order-sign`;
const tokens: string[] = [];
for (let i = 0; i < rps * (seconds + 5) * 1.1; i++) tokens.push(await issuer.sign({ sub: 'bench-ehr', aud: audience, ttlSeconds: 600 }));
const bodies = patients.map((id) => JSON.stringify(cdsRequest('order-sign', id, [CLOPIDOGREL])));
let t = 0;
const orderSign = (duration: number): OpenLoopOptions => ({
  url,
  rate: rps,
  seconds: duration,
  request: (i) => ({
    method: 'POST',
    path: '/cds-services/pgx-order-sign',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[t++]}` },
    body: bodies[i % bodies.length] ?? '',
  }),
});
await load('warm-up order-sign', orderSign(3));
await load('CDS Hooks POST /cds-services/pgx-order-sign', orderSign(seconds));

// 3. Card change: publish an alert change, poll order-sign until the cards follow.
{
  const samples: number[] = [];
  const id = 'PT-CARD-CHANGE';
  await producer.send(profilesTopic, [{ key: `${id}|CYP2C19`, value: await serde.encode(TOPICS.profiles, profileEvent(id, 'CYP2C19', { diplotype: '*2/*2', phenotype: 'Poor Metabolizer' })) }]);
  const body = JSON.stringify(cdsRequest('order-sign', id, [CLOPIDOGREL]));
  const cards = async (): Promise<number> => {
    const r = await fetch(`${url}/cds-services/pgx-order-sign`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[t++]}` }, body });
    return ((await r.json()) as { cards: unknown[] }).cards.length;
  };
  for (let i = 0; i < changes; i++) {
    const active = i % 2 === 0;
    const value = await serde.encode(TOPICS.alerts, alertEvent(id, active ? 'ACTIVE' : 'WITHDRAWN', { variant: String(i) }));
    const started = performance.now();
    await producer.send(alertsTopic, [{ key: id, value }]);
    while ((await cards()) !== (active ? 1 : 0)) {
      if (performance.now() - started > 10_000) throw new Error('card did not change within 10 s');
    }
    samples.push(performance.now() - started);
    await sleep(20);
  }
  samples.sort((a, b) => a - b);
  console.log(`event published (send started) → card changes at order-sign (${samples.length} changes): p50 ${percentile(samples, 50).toFixed(1)} ms, p99 ${percentile(samples, 99).toFixed(1)} ms, max ${(samples.at(-1) ?? Number.NaN).toFixed(1)} ms`);
}
serve.kill('SIGTERM');
await exited(serve);

// 2. Views freshness at a fixed event rate, the views sink in its own process.
const sink = spawn(process.execPath, [CLI, 'views-sink'], { env: childEnv(env), stdio: ['ignore', 'ignore', 'inherit'] });
const group = sinkGroupId(config, VIEWS_STAGE);
await waitForLag(kafka, group, profilesTopic, 300_000);
await waitForLag(kafka, group, alertsTopic, 300_000);
const clickhouse = createClickHouse(config);
const freshStart = Date.now();
const { latencies, achieved } = await publishAtRate({
  rate,
  seconds: freshSeconds,
  make: async (n) => {
    const id = `PT-F${String(n % 20_000).padStart(6, '0')}`;
    const profile = profileEvent(id, 'CYP2C19', { diplotype: '*1/*2', phenotype: 'Intermediate Metabolizer' }, { sourceId: `bench/${runId}/${n}` });
    profile.profileId = `${runId}-${n}`;
    return { record: { key: `${id}|CYP2C19`, value: await serde.encode(TOPICS.profiles, profile) }, ...(n % 50 === 0 ? { watch: profile.profileId } : {}) };
  },
  send: (records) => producer.send(profilesTopic, records),
  visible: async (ids) =>
    (await queryRows<{ profile_id: string }>(clickhouse, 'SELECT profile_id FROM pgx_profile_versions WHERE profile_id IN {ids:Array(String)}', { ids })).map((r) => r.profile_id),
});
await waitForLag(kafka, group, profilesTopic, 120_000);
const [server] = await queryRows<{ p50: number; p99: number; max: number; rows: string }>(
  clickhouse,
  `SELECT quantileExact(0.5)(d) AS p50, quantileExact(0.99)(d) AS p99, max(d) AS max, count() AS rows
   FROM (SELECT toUnixTimestamp64Milli(inserted_at) - toUnixTimestamp64Milli(published_at) AS d FROM pgx_profile_versions WHERE published_at >= fromUnixTimestamp64Milli({since:Int64}))`,
  { since: freshStart },
);
console.log(`views freshness at ${rate} profile events/s for ${freshSeconds} s (achieved ${Math.round(achieved)}/s; sink batches ≤ ${config.sinkBatchSize} rows / ${config.sinkBatchMaxMs} ms):`);
console.log(`  publish-acked → visible in pgx_profile_versions to a polling reader (${latencies.length} sampled): ${summary(latencies)}`);
console.log(`  record timestamp → server insert time (all ${server?.rows ?? 0} rows): p50 ${server?.p50 ?? '?'} ms, p99 ${server?.p99 ?? '?'} ms, max ${server?.max ?? '?'} ms`);
sink.kill('SIGTERM');
await exited(sink);

await producer.close();
await clickhouse.close();
jwks.close();
const admin = await kafka.admin();
await admin.deleteTopics((await admin.listTopics()).filter((name) => name.startsWith(config.topicPrefix)));
await admin.close();
const root = createClickHouse(config, 'default');
await root.command({ query: `DROP DATABASE IF EXISTS ${config.clickhouseDatabase}` });
await root.close();
