import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKnowledgeBase, pgxPositionIndex } from '../../domain/pgx/index.ts';
import { TOPICS, topicName } from '../../platform/catalogue.ts';
import { childEnv } from '../../platform/config.ts';
import type { PgxAlert, PgxPatientState, PgxProfile } from '../../platform/events.ts';
import type { IncomingRecord, OutgoingRecord } from '../../platform/kafka/port.ts';
import { replayTopic } from '../../platform/kafka/replay.ts';
import { createSerde } from '../../platform/serde.ts';
import { applyInput, emptyState, evaluate, type CoreContext, type Input } from '../../services/pgx-processor/core.ts';
import { PROCESSOR_STAGE, startPgxProcessor } from '../../services/pgx-processor/runner.ts';
import { waitForLag } from '../../platform/kafka/lag.ts';
import { isolatedEnv, type TestEnv } from '../support/env.ts';
import { collect, waitFor } from '../support/kafka.ts';
import { diplotypeCalls, genotypes, outside } from '../support/pgx-events.ts';
import { fromRoot } from '../../platform/paths.ts';

const CLI = fromRoot('bin', 'backbone.js');
const PATIENTS = 1500;
const DIPLOTYPES: [string, string][] = [['*1', '*1'], ['*1', '*2'], ['*2', '*2'], ['*1', '*17'], ['*17', '*17'], ['*2', '*17'], ['*2', '*3']];
const kb = loadKnowledgeBase();
const positions = pgxPositionIndex(kb);
const ctx: CoreContext = { kb, isDefining: (c, p) => positions.has(`${c}:${p}`), pipelineVersion: '' };

function patientInputs(n: number): { genotype: Input; outsideCall?: Input } {
  const patientId = `PT-${String(n).padStart(5, '0')}`;
  const [a, b] = DIPLOTYPES[n % DIPLOTYPES.length]!;
  const genotype: Input = { kind: 'genotypes', event: genotypes(patientId, diplotypeCalls('CYP2C19', a, b)) };
  // Every 5th patient also has a lab result: CYP2D6 for some, a disagreeing CYP2C19 for others.
  if (n % 5 !== 0) return { genotype };
  const event = n % 10 === 0 ? outside(patientId, 'CYP2D6', '*4/*4', 'Poor Metabolizer') : outside(patientId, 'CYP2C19', '*1/*1', 'Normal Metabolizer');
  return { genotype, outsideCall: { kind: 'outside', event } };
}

function start(env: TestEnv): ChildProcess {
  return spawn(process.execPath, [CLI, 'processor'], { env: childEnv(env.childEnv), stdio: ['ignore', 'ignore', 'inherit'] });
}

const exited = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

async function committed(env: TestEnv, topic: string): Promise<number> {
  const admin = await env.kafka.admin();
  try {
    return (await admin.groupOffsets(`${env.config.topicPrefix}backbone.${PROCESSOR_STAGE}`, topic)).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.close();
  }
}

describe('pgx processor killed at random points', () => {
  let env: TestEnv;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    env = await isolatedEnv('pgxproc', { BACKBONE_PROCESSOR_BATCH_SIZE: '50', BACKBONE_PROCESSOR_BATCH_MAX_MS: '20' });
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await env.close();
  });

  /** Publishes one phase of input, then kills the processor twice while it is part-way through. */
  async function phase(topic: string, records: OutgoingRecord[]): Promise<number> {
    const producer = await env.kafka.producer();
    await producer.send(topic, records);
    await producer.close();
    let killedMidway = 0;
    for (let kill = 0; kill < 2; kill++) {
      const before = await committed(env, topic);
      if (before >= records.length) break; // all done already: nothing left to interrupt
      child = start(env);
      const at = await waitFor('progress', () => committed(env, topic), (n) => n > before, 120_000);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 300)));
      child.kill('SIGKILL');
      await exited(child);
      if (at < records.length) killedMidway++;
    }
    child = start(env);
    await waitForLag(env.kafka, `${env.config.topicPrefix}backbone.${PROCESSOR_STAGE}`, topic, 180_000);
    child.kill('SIGTERM');
    await exited(child);
    return killedMidway;
  }

  // Each kill costs a group session timeout (~10 s) before the restarted member gets the partitions.
  it('emits exactly the profiles and alerts of an uninterrupted run: none lost, none duplicated', { timeout: 400_000 }, async () => {
    const serde = createSerde(env.config);
    const inputs = Array.from({ length: PATIENTS }, (_, n) => patientInputs(n));
    const genotypeRecords = await Promise.all(inputs.map(async ({ genotype }) => ({ key: genotype.event.patientId, value: await serde.encode(TOPICS.genotypeCalls, genotype.event) })));
    const outsideRecords = await Promise.all(
      inputs.flatMap(({ outsideCall }) => (outsideCall === undefined ? [] : [outsideCall])).map(async (o) => ({ key: o.event.patientId, value: await serde.encode(TOPICS.outsideCalls, o.event) })),
    );
    const midway1 = await phase(topicName(TOPICS.genotypeCalls, env.config.topicPrefix), genotypeRecords);
    const midway2 = await phase(topicName(TOPICS.outsideCalls, env.config.topicPrefix), outsideRecords);
    expect(midway1 + midway2).toBeGreaterThan(0); // the kills did land in the middle of the work

    // What an uninterrupted processor emits: the pure core over the same inputs in the same order.
    const expectedAlerts: PgxAlert[] = [];
    const expectedProfiles = new Map<string, PgxProfile>();
    for (const { genotype, outsideCall } of inputs) {
      let state: PgxPatientState = emptyState(genotype.event.patientId, kb.version);
      for (const input of outsideCall === undefined ? [genotype] : [genotype, outsideCall]) {
        const e = evaluate(applyInput(state, input, ctx), ctx, input.event.lineage.ingestedAt);
        state = e.state;
        expectedAlerts.push(...e.alerts);
        for (const p of e.profiles) expectedProfiles.set(`${p.patientId}|${p.gene}`, p);
      }
    }
    expect(expectedAlerts.length).toBeGreaterThan(PATIENTS / 2);

    // Everything committed on the output topics (read_committed: aborted transactions are invisible).
    const readAll = async (topic: string): Promise<IncomingRecord[]> => {
      const got: IncomingRecord[] = [];
      await replayTopic(env.kafka, topicName(topic, env.config.topicPrefix), (records) => {
        got.push(...records);
      });
      return got;
    };
    const alerts = await Promise.all((await readAll(TOPICS.alerts)).map((r) => serde.decode<PgxAlert>(TOPICS.alerts, r.value)));
    const ids = alerts.map((a) => a.alertId);
    expect(new Set(ids).size).toBe(ids.length); // none duplicated
    const strip = (a: PgxAlert) => ({ ...a, pipelineVersion: '' });
    const byId = (x: { alertId: string }, y: { alertId: string }) => (x.alertId < y.alertId ? -1 : 1);
    expect(alerts.map(strip).sort(byId)).toEqual(expectedAlerts.map(strip).sort(byId)); // none lost, none extra

    const latest = new Map<string, PgxProfile>();
    for (const r of await readAll(TOPICS.profiles)) latest.set(r.key?.toString() ?? '', await serde.decode<PgxProfile>(TOPICS.profiles, r.value));
    expect([...latest.keys()].sort()).toEqual([...expectedProfiles.keys()].sort());
    for (const [key, p] of expectedProfiles) expect({ ...latest.get(key), pipelineVersion: '' }, key).toEqual({ ...p, pipelineVersion: '' });
  });
});

describe('pgx processor start-up', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await isolatedEnv('pgxstart');
  });
  afterAll(async () => env.close());

  it('re-analyses the states of an older knowledge base from the changelog, and only those', { timeout: 120_000 }, async () => {
    const serde = createSerde(env.config);
    const stateOf = (patientId: string): PgxPatientState => {
      const input: Input = { kind: 'genotypes', event: genotypes(patientId, diplotypeCalls('CYP2C19', '*2', '*2')) };
      return evaluate(applyInput(emptyState(patientId, kb.version), input, ctx), ctx, 1).state;
    };
    // PT-OLD was last evaluated with another knowledge base (and so has no profiles of this one).
    const current = stateOf('PT-NOW');
    const old: PgxPatientState = { ...stateOf('PT-OLD'), kbVersion: 'cpic-0.0', profiles: {}, alerts: {} };
    const stateTopic = topicName(TOPICS.patientState, env.config.topicPrefix);
    const producer = await env.kafka.producer();
    await producer.send(stateTopic, [
      { key: current.patientId, value: await serde.encode(TOPICS.patientState, current) },
      { key: old.patientId, value: await serde.encode(TOPICS.patientState, old) },
    ]);
    await producer.close();

    const processor = await startPgxProcessor(env.config, env.log, { instanceId: 'startup' }, env.kafka);
    await processor.stop();
    expect(processor.stats).toMatchObject({ patients: 2, reanalysed: 1 });

    const profiles = await collect(env.kafka, topicName(TOPICS.profiles, env.config.topicPrefix), 1);
    expect(profiles.map((r) => r.key?.toString())).toEqual(['PT-OLD|CYP2C19']);
    const states = (await collect(env.kafka, stateTopic, 3)).filter((r) => r.key?.toString() === 'PT-OLD');
    expect(states).toHaveLength(2);
    const rewritten = await serde.decode<PgxPatientState>(TOPICS.patientState, states[1]?.value ?? null);
    expect(rewritten).toEqual(evaluate(old, ctx, old.updatedAt).state);
    expect(rewritten.kbVersion).toBe(kb.version);
  });
});
