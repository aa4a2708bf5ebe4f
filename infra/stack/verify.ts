/**
 * End-to-end check of a running stack with the clients the project uses:
 *   node --import tsx infra/stack/verify.ts write   # create a topic, schema and table; round-trip data
 *   node --import tsx infra/stack/verify.ts check   # after a restart: the same objects are still there
 * Optional --ports=<kafka>,<registry>,<clickhouse> (default 9092,8081,8123); throws on the first
 * failed check.
 */
import '../../platform/kafka/crc32c.ts'; // before kafkajs: see the module
import { randomUUID } from 'node:crypto';
import { createClient } from '@clickhouse/client';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';

const { values: flags, positionals } = parseArgs({ options: { ports: { type: 'string' } }, allowPositionals: true });
const [kafkaPort = 9092, registryPort = 8081, clickhousePort = 8123] = (flags.ports ?? '')
  .split(',')
  .filter((part) => part !== '')
  .map(Number);
const KAFKA = `127.0.0.1:${kafkaPort}`;
const REGISTRY = `http://127.0.0.1:${registryPort}/apis/ccompat/v7`;
const CLICKHOUSE = `http://127.0.0.1:${clickhousePort}`;
const TOPIC = 'stack-verify';
const SUBJECT = `${TOPIC}-value`;
const TABLE = 'stack_verify';
const SCHEMA = { type: 'record', name: 'StackVerify', fields: [{ name: 'id', type: 'string' }] };

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`check failed: ${what}`);
  console.log(`ok  ${what}`);
}

const kafka = new Kafka({ clientId: 'stack-verify', brokers: [KAFKA], logLevel: logLevel.ERROR });

async function kafkaRoundTrip(): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  if (!(await admin.listTopics()).includes(TOPIC)) {
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 3 }], waitForLeaders: true });
  }
  await admin.disconnect();
  const value = randomUUID();
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  await producer.send({ topic: TOPIC, acks: -1, messages: [{ key: 'k', value }] });
  await producer.disconnect();
  check(await consumeUntil(value), 'kafka: produced message consumed back');
}

/** Reads the topic from the beginning with a fresh group until `value` shows up (or 30 s pass). */
async function consumeUntil(value: string): Promise<boolean> {
  const consumer = kafka.consumer({ groupId: `stack-verify-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  const found = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 30_000);
    void consumer.run({
      eachMessage: async ({ message }) => {
        if (message.value?.toString() === value) {
          clearTimeout(timer);
          resolve(true);
        }
      },
    });
  });
  const result = await found;
  await consumer.disconnect();
  return result;
}

async function registryJson(path: string, init?: RequestInit): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${REGISTRY}${path}`, {
    ...init,
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
  });
  return { status: res.status, body: await res.json() };
}

async function registryRoundTrip(): Promise<void> {
  const config = await registryJson('/config');
  check(JSON.stringify(config.body).includes('BACKWARD'), `registry: global compatibility is BACKWARD (${JSON.stringify(config.body)})`);
  const posted = await registryJson(`/subjects/${SUBJECT}/versions`, {
    method: 'POST',
    body: JSON.stringify({ schema: JSON.stringify(SCHEMA) }),
  });
  const id = (posted.body as { id?: number }).id;
  check(posted.status === 200 && typeof id === 'number', `registry: schema registered (id ${String(id)})`);
  const fetched = await registryJson(`/schemas/ids/${String(id)}`);
  const schema = (fetched.body as { schema?: string }).schema ?? '';
  check(fetched.status === 200 && schema.includes('StackVerify'), 'registry: schema read back by id');
}

const clickhouse = createClient({ url: CLICKHOUSE });

async function countRows(): Promise<number> {
  const result = await clickhouse.query({ query: `SELECT count() AS n FROM ${TABLE} FINAL`, format: 'JSONEachRow' });
  const rows = await result.json<{ n: string }>();
  return Number(rows[0]?.n ?? -1);
}

async function clickhouseRoundTrip(): Promise<void> {
  await clickhouse.command({ query: `DROP TABLE IF EXISTS ${TABLE}` });
  await clickhouse.command({
    query: `CREATE TABLE ${TABLE} (id UInt32, name String, version UInt64)
            ENGINE = ReplacingMergeTree(version) ORDER BY id
            SETTINGS non_replicated_deduplication_window = 1000`,
  });
  await clickhouse.command({
    query: `INSERT INTO ${TABLE} VALUES ({id:UInt32}, {name:String}, {version:UInt64})`,
    query_params: { id: 1, name: "it's \"quoted\"", version: 1 },
  });
  const result = await clickhouse.query({
    query: `SELECT name FROM ${TABLE} WHERE id = {id:UInt32}`,
    query_params: { id: 1 },
    format: 'JSONEachRow',
  });
  const rows = await result.json<{ name: string }>();
  check(rows[0]?.name === "it's \"quoted\"", 'clickhouse: insert and select with query_params');
  for (let i = 0; i < 2; i++) {
    await clickhouse.insert({
      table: TABLE,
      values: [{ id: 2, name: 'dedup', version: 1 }],
      format: 'JSONEachRow',
      clickhouse_settings: { insert_deduplication_token: 'stack-verify-token' },
    });
  }
  const dedup = await clickhouse.query({ query: `SELECT count() AS n FROM ${TABLE} WHERE id = 2`, format: 'JSONEachRow' });
  const n = Number((await dedup.json<{ n: string }>())[0]?.n);
  check(n === 1, `clickhouse: same insert_deduplication_token twice -> ${n} row(s)`);
}

async function write(): Promise<void> {
  await kafkaRoundTrip();
  await registryRoundTrip();
  await clickhouseRoundTrip();
}

/** After a restart: topic, subject and table (with its two rows) must have survived. */
async function checkPersisted(): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  check((await admin.listTopics()).includes(TOPIC), `kafka: topic ${TOPIC} still exists`);
  await admin.disconnect();
  const subjects = await registryJson('/subjects');
  check(Array.isArray(subjects.body) && subjects.body.includes(SUBJECT), `registry: subject ${SUBJECT} still exists`);
  check((await countRows()) === 2, `clickhouse: table ${TABLE} still has its 2 rows`);
  await kafkaRoundTrip();
}

try {
  await (positionals[0] === 'check' ? checkPersisted() : write());
} finally {
  await clickhouse.close();
}
