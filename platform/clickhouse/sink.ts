/**
 * The generic Kafka → ClickHouse sink: decode → rows → insert with retry and a deduplication
 * token → isolate the records ClickHouse refuses (by halving) → dead-letter them. Offsets are
 * committed by the consumer only after the batch step resolves, so nothing is ever skipped: a
 * batch that cannot be stored (ClickHouse down) rejects and is read again.
 *
 * `createBatchSink` is the pure batch step with its I/O injected (tests call it directly);
 * `startClickHouseSink` is the thin runner a service composes it with.
 */
import { createHash } from 'node:crypto';
import type { Config } from '../config.ts';
import { DeadLetterPublisher, type DeadLetterInput } from '../dead-letter.ts';
import { InvalidInputError, isRetriable } from '../errors.ts';
import { createKafka } from '../kafka/kafkajs.ts';
import type { IncomingRecord, KafkaPort } from '../kafka/port.ts';
import { Lifecycle } from '../lifecycle.ts';
import type { Logger } from '../log.ts';
import { retry, type RetryOptions } from '../retry.ts';
import { createSerde, type Serde } from '../serde.ts';
import { SpanKind, extractTraceContext, withSpan } from '../telemetry.ts';
import { createClickHouse, insertRows, type ClickHouseClient } from './client.ts';
import { loadMigrations, migrate } from './migrate.ts';

/** Where a record came from; rows carry it as lineage and it makes inserts idempotent. */
export interface RecordMeta {
  topic: string;
  partition: number;
  offset: string;
  /** Kafka record timestamp, epoch ms. */
  timestamp: number;
}

export function recordMeta(record: IncomingRecord): RecordMeta {
  return { topic: record.topic, partition: record.partition, offset: record.offset, timestamp: Number(record.timestamp) };
}

/** Rows of one record for one table. A record may feed several tables. */
export interface TableRows<R extends object = object> {
  table: string;
  rows: R[];
}

export interface BatchSinkDeps<E, R extends object = object> {
  /** Bytes → event; throws InvalidInputError for a record that can never be decoded. */
  decode: (record: IncomingRecord) => Promise<E>;
  /** Pure: event → rows per table; throws InvalidInputError when the event breaks an invariant. */
  toRows: (event: E, meta: RecordMeta) => TableRows<R>[];
  insert: (table: string, rows: R[], token: string) => Promise<void>;
  deadLetter: (inputs: DeadLetterInput[]) => Promise<void>;
  log: Logger;
  /** Deduplication token of an insert; by default derived from the records' Kafka positions. */
  token?: (table: string, rows: R[], records: readonly IncomingRecord[]) => string;
  retry?: Omit<RetryOptions, 'what'>;
}

export interface BatchOutcome {
  records: number;
  rows: number;
  deadLettered: number;
}

export type BatchSink = (records: IncomingRecord[], signal?: AbortSignal) => Promise<BatchOutcome>;

export const DEFAULT_INSERT_RETRY: Omit<RetryOptions, 'what'> = { attempts: 5, initialDelayMs: 200, maxDelayMs: 5_000 };

/**
 * The default deduplication token: the same records (and row counts) always give the same token,
 * so an insert retried after a timeout, or redelivered after a crash in the same batch, is stored once.
 */
export function positionsToken(table: string, records: readonly IncomingRecord[], rows: number): string {
  const hash = createHash('sha256').update(`${table}\n${rows}\n`);
  for (const r of records) hash.update(`${r.topic}\u0000${r.partition}\u0000${r.offset}\n`);
  return hash.digest('hex');
}

interface Group<R extends object> {
  record: IncomingRecord;
  tables: TableRows<R>[];
}

export function createBatchSink<E, R extends object = object>(deps: BatchSinkDeps<E, R>): BatchSink {
  const retryOptions = deps.retry ?? DEFAULT_INSERT_RETRY;
  const tokenOf = deps.token ?? ((table: string, rows: R[], records: readonly IncomingRecord[]) => positionsToken(table, records, rows.length));

  async function insertGroups(groups: Group<R>[], signal?: AbortSignal): Promise<void> {
    const byTable = new Map<string, { rows: R[]; records: IncomingRecord[] }>();
    for (const g of groups) {
      for (const t of g.tables) {
        if (t.rows.length === 0) continue;
        let entry = byTable.get(t.table);
        if (entry === undefined) byTable.set(t.table, (entry = { rows: [], records: [] }));
        entry.rows.push(...t.rows);
        entry.records.push(g.record);
      }
    }
    for (const [table, { rows, records }] of byTable) {
      const token = tokenOf(table, rows, records);
      await retry(() => deps.insert(table, rows, token), {
        ...retryOptions,
        what: 'clickhouse insert',
        signal,
        onRetry: (error, attempt, delayMs) => deps.log.warn({ err: String(error), table, attempt, delayMs }, 'insert failed; retrying'),
      });
    }
  }

  /**
   * Inserts record groups; when ClickHouse rejects the data itself (not retriable), halves the
   * batch until the offending records are isolated, so one bad record never blocks the others.
   * Tables must be idempotent by row identity (ReplacingMergeTree or argMax states): a retried half
   * may store again rows a refused whole had already stored in another table.
   */
  async function insertIsolating(groups: Group<R>[], dead: DeadLetterInput[], signal?: AbortSignal): Promise<void> {
    if (groups.length === 0) return;
    try {
      await insertGroups(groups, signal);
    } catch (error) {
      if (isRetriable(error)) throw error; // ClickHouse is down: rewind, never skip
      const [only] = groups;
      if (groups.length === 1 && only !== undefined) {
        dead.push({ error, record: only.record });
        return;
      }
      const half = Math.ceil(groups.length / 2);
      await insertIsolating(groups.slice(0, half), dead, signal);
      await insertIsolating(groups.slice(half), dead, signal);
    }
  }

  return async function process(records, signal) {
    const dead: DeadLetterInput[] = [];
    const groups: Group<R>[] = [];
    for (const record of records) {
      try {
        const event = await deps.decode(record);
        groups.push({ record, tables: deps.toRows(event, recordMeta(record)) });
      } catch (error) {
        if (!(error instanceof InvalidInputError)) throw error; // registry down etc.: retry the batch
        dead.push({ error, record });
      }
    }
    await insertIsolating(groups, dead, signal);
    await deps.deadLetter(dead);
    if (dead.length > 0) deps.log.warn({ deadLettered: dead.length, records: records.length }, 'records dead-lettered');
    const rows = groups.reduce((n, g) => n + g.tables.reduce((m, t) => m + t.rows.length, 0), 0);
    return { records: records.length, rows, deadLettered: dead.length };
  };
}

export interface SinkStats {
  batches: number;
  records: number;
  rows: number;
  deadLettered: number;
}

export interface SinkHandle {
  stats: SinkStats;
  stop(): Promise<void>;
  /** Rejects when the consumer fails for good. */
  failed: Promise<never>;
}

export interface ClickHouseSinkSpec<E, R extends object> {
  /** Stage name: dead-letter stage, consumer group suffix, migration component, span name. */
  stage: string;
  /** Catalogue topic names (without prefix) to consume. */
  topics: string[];
  migrationsDir: string;
  decode: (serde: Serde, record: IncomingRecord) => Promise<E>;
  toRows: (event: E, meta: RecordMeta) => TableRows<R>[];
  token?: (table: string, rows: R[], records: readonly IncomingRecord[]) => string;
}

export async function migrateComponent(config: Config, component: string, migrationsDir: string): Promise<string[]> {
  const admin = createClickHouse(config, 'default');
  try {
    return await migrate(admin, config.clickhouseDatabase, component, loadMigrations(migrationsDir));
  } finally {
    await admin.close();
  }
}

export function sinkGroupId(config: Config, stage: string): string {
  return `${config.topicPrefix}backbone.${stage}`;
}

/**
 * Runs a sink: migrations, then ClickHouse client, dead-letter producer and consumer, started in
 * order and closed in reverse. Batches by records (`BACKBONE_SINK_BATCH_SIZE`), bytes
 * (`BACKBONE_SINK_BATCH_BYTES`) and age (`BACKBONE_SINK_BATCH_MAX_MS`); offsets are committed after the insert.
 */
export async function startClickHouseSink<E, R extends object>(
  spec: ClickHouseSinkSpec<E, R>,
  config: Config,
  log: Logger,
  kafka: KafkaPort = createKafka(config, log, `-${spec.stage}`),
): Promise<SinkHandle> {
  const life = new Lifecycle(log);
  try {
    await migrateComponent(config, spec.stage, spec.migrationsDir);
    const clickhouse: ClickHouseClient = life.add('clickhouse', createClickHouse(config), (c) => c.close());
    const serde = createSerde(config);
    const producer = life.add('dead-letter producer', await kafka.producer(), (p) => p.close());
    const deadLetters = new DeadLetterPublisher(spec.stage, producer, serde, config.topicPrefix);
    const stats: SinkStats = { batches: 0, records: 0, rows: 0, deadLettered: 0 };
    const process = createBatchSink<E, R>({
      decode: (record) => spec.decode(serde, record),
      toRows: spec.toRows,
      insert: (table, rows, token) => insertRows(clickhouse, table, rows, token),
      deadLetter: (inputs) => deadLetters.publish(inputs),
      log,
      ...(spec.token === undefined ? {} : { token: spec.token }),
    });
    const groupId = sinkGroupId(config, spec.stage);
    const consumer = kafka.consumer({
      groupId,
      topics: spec.topics.map((t) => `${config.topicPrefix}${t}`),
      fromBeginning: true,
      maxBatchSize: config.sinkBatchSize,
      maxBatchBytes: config.sinkBatchBytes,
      maxBatchMs: config.sinkBatchMaxMs,
    });
    let fail: (error: unknown) => void = () => {};
    const failed = new Promise<never>((_, reject) => {
      fail = reject;
    });
    failed.catch(() => {}); // observed by callers that care
    consumer.onFatal((error) => fail(error));
    // Registered before it starts, so a failed start still stops it.
    life.add('consumer', consumer, (c) => c.stop());
    await consumer.start(async (records, context) => {
      // One span per batch, linked to the producer's trace through the first record's headers.
      const parent = records[0] === undefined ? undefined : extractTraceContext(records[0].headers);
      const outcome = await withSpan(
        `${spec.stage} process`,
        { 'messaging.system': 'kafka', 'messaging.operation': 'process', 'messaging.batch.message_count': records.length },
        () => process(records, context.signal),
        { kind: SpanKind.CONSUMER, ...(parent === undefined ? {} : { parent }) },
      );
      stats.batches++;
      stats.records += outcome.records;
      stats.rows += outcome.rows;
      stats.deadLettered += outcome.deadLettered;
    });
    log.info({ group: groupId }, `${spec.stage} running`);
    return { stats, stop: () => life.stop(), failed };
  } catch (error) {
    await life.stop();
    throw error;
  }
}
