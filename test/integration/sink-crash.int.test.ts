import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPICS, topicName } from '../../platform/catalogue.ts';
import { queryRows } from '../../platform/clickhouse/client.ts';
import { childEnv } from '../../platform/config.ts';
import type { OutgoingRecord } from '../../platform/kafka/port.ts';
import { createSerde } from '../../platform/serde.ts';
import { SINK_STAGE } from '../../services/variant-sink/runner.ts';
import { waitForLag } from '../../platform/kafka/lag.ts';
import { genotypeEvent } from '../support/fixtures.ts';
import { isolatedEnv, type TestEnv } from '../support/env.ts';
import { waitFor } from '../support/kafka.ts';
import { fromRoot } from '../../platform/paths.ts';

const CLI = fromRoot('bin', 'backbone.js');
const EVENTS = 20_000;
const CALLS = 3;

function startSinkProcess(env: TestEnv): ChildProcess {
  return spawn(process.execPath, [CLI, 'sink'], {
    env: childEnv(env.childEnv),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}

const count = async (env: TestEnv): Promise<number> =>
  Number((await queryRows<{ n: string }>(env.clickhouse, 'SELECT count() AS n FROM variant_calls'))[0]?.n ?? 0);

describe('variant sink killed mid-batch', () => {
  let env: TestEnv;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    // Small, slow-to-fill batches so the kill lands between an insert and its offset commit often.
    env = await isolatedEnv('crash', { BACKBONE_SINK_BATCH_SIZE: '700', BACKBONE_SINK_BATCH_MAX_MS: '200' });
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await env.close();
  });

  it('leaves every event in ClickHouse exactly once after SIGKILL and restart', async () => {
    const serde = createSerde(env.config);
    const topic = topicName(TOPICS.genotypeCalls, env.config.topicPrefix);
    const producer = await env.kafka.producer();
    for (let start = 0; start < EVENTS; start += 1000) {
      const batch: OutgoingRecord[] = [];
      for (let n = start; n < start + 1000; n++) {
        const event = genotypeEvent(n, { patients: 997, calls: CALLS });
        batch.push({ key: event.patientId, value: await serde.encode(TOPICS.genotypeCalls, event) });
      }
      await producer.send(topic, batch);
    }
    await producer.close();

    child = startSinkProcess(env);
    // Kill it while it is part-way through: some rows stored, most not yet.
    const seen = await waitFor('the sink to store some rows', () => count(env), (n) => n >= 3_000, 90_000);
    child.kill('SIGKILL');
    await exited(child);
    const atKill = await count(env);
    expect(seen).toBeLessThan(EVENTS * CALLS);
    expect(atKill).toBeLessThan(EVENTS * CALLS);
    // Offsets never run ahead of the inserts: every committed record's rows are already stored.
    const admin = await env.kafka.admin();
    const committed = (await admin.groupOffsets(`${env.config.topicPrefix}backbone.${SINK_STAGE}`, topic)).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
    await admin.close();
    expect(committed * CALLS).toBeLessThanOrEqual(atKill);

    child = startSinkProcess(env);
    await waitForLag(env.kafka, `${env.config.topicPrefix}backbone.${SINK_STAGE}`, topic, 120_000);
    child.kill('SIGTERM');
    await exited(child);

    const [visible] = await queryRows<{ rows: string; distinct: string; events: string }>(
      env.clickhouse,
      'SELECT count() AS rows, uniqExact(event_id, call_index) AS distinct, uniqExact(event_id) AS events FROM variant_calls_current',
    );
    expect(Number(visible?.rows)).toBe(EVENTS * CALLS);
    expect(Number(visible?.distinct)).toBe(EVENTS * CALLS);
    expect(Number(visible?.events)).toBe(EVENTS);
  });
});
