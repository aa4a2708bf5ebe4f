/**
 * Composition root of the point-of-care service (`backbone serve`): the read API, the CDS Hooks
 * service, webhook subscriptions and the page, on one fastify server, against the running stack.
 * Starts in order — Kafka producer and audit trail, ClickHouse (webhook tables), the state consumer
 * (awaited until it has caught up), the webhook dispatcher, health, HTTP — and stops in reverse.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../../platform/config.ts';
import { TOPICS } from '../../platform/catalogue.ts';
import { AuditTrail, kafkaAuditWriter } from '../../platform/auth/audit.ts';
import { createTokenVerifier, remoteIssuers, ReplayGuard, type IssuerTrust } from '../../platform/auth/jwt.ts';
import { createClickHouse } from '../../platform/clickhouse/client.ts';
import { migrateComponent } from '../../platform/clickhouse/sink.ts';
import { DeadLetterPublisher, DLQ_HEADERS } from '../../platform/dead-letter.ts';
import { DependencyError, InvalidInputError, describeError } from '../../platform/errors.ts';
import type { PgxAlert, PgxProfile } from '../../platform/events.ts';
import { createKafka } from '../../platform/kafka/kafkajs.ts';
import type { IncomingRecord, KafkaPort } from '../../platform/kafka/port.ts';
import { Lifecycle } from '../../platform/lifecycle.ts';
import type { Logger } from '../../platform/log.ts';
import { sleep } from '../../platform/retry.ts';
import { createSerde, type Serde } from '../../platform/serde.ts';
import { drugs, loadKnowledgeBase } from '../../domain/pgx/index.ts';
import { createApi } from './api.ts';
import { SERVICE_IDS, type CatalogueDrug, type FhirPatient } from './cds.ts';
import { HealthMonitor } from './health.ts';
import { buildHttp } from './http.ts';
import { PatientState, type Position } from './state.ts';
import { createDispatcher, logDeliveries, SubscriptionStore, WEBHOOK_STAGE } from './webhooks.ts';
import { fromRoot } from '../../platform/paths.ts';

export const POC_STAGE = 'point-of-care';
export const POC_MIGRATIONS_DIR = fromRoot('services', 'point-of-care', 'migrations');

export interface PointOfCareOptions {
  kafka?: KafkaPort;
  port?: number;
  host?: string;
  /** Issuers trusted in-process (a dev or test issuer), in addition to BACKBONE_AUTH_ISSUERS. */
  userIssuers?: IssuerTrust[];
  /** CDS clients trusted in-process, in addition to BACKBONE_CDS_CLIENTS. */
  cdsIssuers?: IssuerTrust[];
  /** Served at /.well-known/jwks.json (dev issuer). */
  devJwks?: object;
  /** Drug catalogue; by default the PGx knowledge base's drugs. */
  catalogue?: CatalogueDrug[];
  instanceId?: string;
  readyTimeoutMs?: number;
}

export interface PointOfCareHandle {
  url: string;
  port: number;
  state: PatientState;
  audit: AuditTrail;
  stats: { applied: number; skipped: number; webhooksDelivered: number; webhooksDeadLettered: number };
  stop(): Promise<void>;
  failed: Promise<never>;
}

/** The audiences a CDS client token may name: the discovery URL or a service's URL. */
export function cdsAudiences(publicUrl: string): string[] {
  const base = `${publicUrl}/cds-services`;
  return [base, ...Object.values(SERVICE_IDS).map((id) => `${base}/${id}`)];
}

export function defaultCatalogue(): CatalogueDrug[] {
  return drugs(loadKnowledgeBase()).map((d) => ({ name: d.name, rxnorm: d.rxnorm, genes: d.genes, guidelineUrl: d.guidelineUrl }));
}

async function fetchPatient(fhirServer: string, accessToken: string | null, patientId: string): Promise<FhirPatient | null> {
  const response = await fetch(`${fhirServer.replace(/\/+$/, '')}/Patient/${encodeURIComponent(patientId)}`, {
    headers: { accept: 'application/fhir+json', ...(accessToken === null ? {} : { authorization: `Bearer ${accessToken}` }) },
    signal: AbortSignal.timeout(3_000),
  });
  if (response.status === 404) return null;
  if (!response.ok) throw new DependencyError('fhir server', `GET Patient answered HTTP ${response.status}`);
  const body = (await response.json()) as FhirPatient;
  return body.resourceType === 'Patient' ? body : null;
}

function position(record: IncomingRecord): Position {
  return { partition: record.partition, offset: BigInt(record.offset), publishedAt: Number(record.timestamp) };
}

/** Applies one record to the state; undecodable ones are skipped (the views sink dead-letters them). */
async function applyRecord(state: PatientState, serde: Serde, record: IncomingRecord, prefix: string): Promise<boolean> {
  const topic = record.topic.slice(prefix.length);
  try {
    if (topic === TOPICS.deadLetter) {
      state.countDeadLetter(record.headers[DLQ_HEADERS.stage]?.toString() ?? 'unknown');
    } else if (topic === TOPICS.profiles) {
      const key = record.key?.toString('utf8') ?? '';
      const at = key.lastIndexOf('|');
      if (at <= 0) return false;
      const value = record.value === null || record.value.length === 0 ? null : await serde.decode<PgxProfile>(TOPICS.profiles, record.value);
      state.applyProfile(key.slice(0, at), key.slice(at + 1), value, position(record));
    } else if (topic === TOPICS.alerts) {
      state.applyAlert(await serde.decode<PgxAlert>(TOPICS.alerts, record.value), position(record));
    }
    return true;
  } catch (error) {
    if (error instanceof InvalidInputError) return false;
    throw error; // registry down: the batch is read again
  }
}

export async function startPointOfCare(config: Config, log: Logger, options: PointOfCareOptions = {}): Promise<PointOfCareHandle> {
  const instanceId = options.instanceId ?? randomBytes(4).toString('hex');
  const kafka = options.kafka ?? createKafka(config, log, `-${POC_STAGE}`);
  const life = new Lifecycle(log);
  let fail: (error: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  failed.catch(() => {});
  try {
    const serde = createSerde(config);
    const producer = life.add('producer', await kafka.producer(), (p) => p.close());
    const audit = life.add(
      'audit trail',
      new AuditTrail({ service: `${POC_STAGE}/${instanceId}`, write: kafkaAuditWriter(producer, serde, config.topicPrefix), log }),
      (a) => a.close(),
    );
    await migrateComponent(config, POC_STAGE, POC_MIGRATIONS_DIR);
    const clickhouse = life.add('clickhouse', createClickHouse(config), (c) => c.close());
    const webhooks = new SubscriptionStore(clickhouse);
    await webhooks.reload();
    const admin = life.add('kafka admin', await kafka.admin(), (a) => a.close());

    // State: every instance reads profiles, alerts and dead letters from the beginning.
    const state = new PatientState();
    const stats = { applied: 0, skipped: 0, webhooksDelivered: 0, webhooksDeadLettered: 0 };
    const stateTopics = [TOPICS.profiles, TOPICS.alerts, TOPICS.deadLetter].map((t) => `${config.topicPrefix}${t}`);
    const targets = new Map<string, bigint>();
    for (const topic of stateTopics) {
      for (const p of await admin.topicOffsets(topic)) if (BigInt(p.high) > BigInt(p.low)) targets.set(`${topic}|${p.partition}`, BigInt(p.high));
    }
    const stateGroup = `${config.topicPrefix}backbone.${POC_STAGE}.${instanceId}`;
    const stateConsumer = kafka.consumer({ groupId: stateGroup, topics: stateTopics, fromBeginning: true, maxBatchSize: 5_000, maxBatchMs: config.pocBatchMaxMs });
    stateConsumer.onFatal((error) => fail(error));
    let lastRecordAt = Date.now();
    await stateConsumer.start(async (records) => {
      for (const record of records) {
        if (await applyRecord(state, serde, record, config.topicPrefix)) stats.applied++;
        else stats.skipped++;
        const key = `${record.topic}|${record.partition}`;
        // A transaction's commit marker follows its last record: one offset short is the end.
        const target = targets.get(key);
        if (target !== undefined && BigInt(record.offset) + 2n >= target) targets.delete(key);
      }
      lastRecordAt = Date.now();
    });
    life.add('state consumer', stateConsumer, async (c) => {
      await c.stop();
      await admin.deleteGroups([stateGroup]).catch((error: unknown) => log.warn({ err: describeError(error) }, 'could not delete the state consumer group'));
    });
    let ready = false;
    const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
    // Caught up: every partition read to its end at start, or nothing arrived for a while (aborted transactions at the end).
    while (targets.size > 0 && Date.now() - lastRecordAt < 3_000) {
      if (Date.now() > deadline) throw new DependencyError('kafka', `point-of-care state did not catch up within ${(options.readyTimeoutMs ?? 120_000) / 1000} s`, { retriable: false });
      await sleep(10);
    }
    ready = true;

    // Webhook dispatcher: one group for all instances, starting at the newest alert when new.
    const deadLetters = new DeadLetterPublisher(WEBHOOK_STAGE, producer, serde, config.topicPrefix);
    const dispatch = createDispatcher({
      subscriptions: () => webhooks.list(),
      decode: (record) => serde.decode<PgxAlert>(TOPICS.alerts, record.value),
      deadLetter: (inputs) => deadLetters.publish(inputs),
      logDeliveries: (rows) => logDeliveries(clickhouse, rows),
      log,
      attempts: config.webhookAttempts,
      initialDelayMs: config.webhookInitialDelayMs,
      timeoutMs: config.webhookTimeoutMs,
    });
    const dispatcher = kafka.consumer({
      groupId: `${config.topicPrefix}backbone.${WEBHOOK_STAGE}`,
      topics: [`${config.topicPrefix}${TOPICS.alerts}`],
      fromBeginning: false,
      maxBatchSize: 500,
      maxBatchMs: 50,
    });
    dispatcher.onFatal((error) => fail(error));
    await dispatcher.start(async (records, context) => {
      const outcome = await dispatch(records, context.signal);
      stats.webhooksDelivered += outcome.delivered;
      stats.webhooksDeadLettered += outcome.deadLettered;
    });
    life.add('webhook dispatcher', dispatcher, (c) => c.stop());
    const reload = setInterval(() => void webhooks.reload().catch((error: unknown) => log.warn({ err: describeError(error) }, 'webhook subscriptions not reloaded')), 5_000);
    reload.unref();
    life.add('webhook reload', reload, async (t) => clearInterval(t));

    const health = new HealthMonitor(admin, config.topicPrefix, { stats: () => state.stats(), ready: () => ready, audit: () => ({ pending: audit.pending, written: audit.written, writable: audit.writable }) }, log);
    health.start();
    life.add('health', health, async (h) => h.stop());

    const users = createTokenVerifier({ issuers: [...remoteIssuers(config.authIssuers, 'BACKBONE_AUTH_ISSUERS'), ...(options.userIssuers ?? [])], audience: [config.authAudience] });
    const cdsClients = createTokenVerifier({
      issuers: [...remoteIssuers(config.cdsClients, 'BACKBONE_CDS_CLIENTS'), ...(options.cdsIssuers ?? [])],
      audience: cdsAudiences(config.publicUrl),
      replay: new ReplayGuard(),
      maxLifetimeSeconds: 3_600,
    });
    const api = createApi({ state, audit, catalogue: options.catalogue ?? defaultCatalogue(), patientIdSystem: config.cdsPatientIdSystem, fetchPatient, ready: () => ready });
    const app = buildHttp({ api, users, cdsClients, health: () => health.snapshot(), webhooks, ...(options.devJwks === undefined ? {} : { devJwks: options.devJwks }) });
    await app.listen({ port: options.port ?? config.servePort, host: options.host ?? config.serveHost });
    life.add('http', app, (a) => a.close());
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : (options.port ?? config.servePort);
    const url = `http://${options.host ?? config.serveHost}:${port}`;
    log.info({ url, patients: state.stats().patients }, 'point of care serving');
    return { url, port, state, audit, stats, stop: () => life.stop(), failed };
  } catch (error) {
    await life.stop();
    throw error;
  }
}
