/**
 * The sink's batch step, with its I/O injected so tests can drive it directly. Idempotent: the
 * same records always produce the same rows and dedup tokens, so redelivery changes nothing.
 */
import type { DeadLetterInput } from '../../platform/dead-letter.ts';
import { InvalidInputError, isRetriable } from '../../platform/errors.ts';
import type { GenotypeCallSet } from '../../platform/events.ts';
import type { IncomingRecord } from '../../platform/kafka/port.ts';
import type { Logger } from '../../platform/log.ts';
import { retry, type RetryOptions } from '../../platform/retry.ts';
import { dedupToken, toRows, type VariantCallRow } from './core.ts';

export interface SinkDeps {
  decode(record: IncomingRecord): Promise<GenotypeCallSet>;
  insert(rows: VariantCallRow[], token: string): Promise<void>;
  deadLetter(inputs: DeadLetterInput[]): Promise<void>;
  log: Logger;
  retry?: Omit<RetryOptions, 'what'>;
}

export interface BatchOutcome {
  records: number;
  rows: number;
  deadLettered: number;
}

const DEFAULT_INSERT_RETRY: Omit<RetryOptions, 'what'> = { attempts: 5, initialDelayMs: 200, maxDelayMs: 5_000 };

export function createSinkProcessor(deps: SinkDeps): (records: IncomingRecord[], signal?: AbortSignal) => Promise<BatchOutcome> {
  const retryOptions = deps.retry ?? DEFAULT_INSERT_RETRY;

  async function insertWithRetry(rows: VariantCallRow[], signal?: AbortSignal): Promise<void> {
    await retry(() => deps.insert(rows, dedupToken(rows)), {
      ...retryOptions,
      what: 'clickhouse insert',
      signal,
      onRetry: (error, attempt, delayMs) => deps.log.warn({ err: String(error), attempt, delayMs }, 'insert failed; retrying'),
    });
  }

  /**
   * Inserts record groups; when ClickHouse rejects the data itself (not retriable), halves the
   * batch until the offending records are isolated, so one bad record never blocks the others.
   */
  async function insertIsolating(groups: { record: IncomingRecord; rows: VariantCallRow[] }[], dead: DeadLetterInput[], signal?: AbortSignal): Promise<void> {
    if (groups.length === 0) return;
    try {
      await insertWithRetry(groups.flatMap((g) => g.rows), signal);
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
    const groups: { record: IncomingRecord; rows: VariantCallRow[] }[] = [];
    for (const record of records) {
      try {
        const event = await deps.decode(record);
        const rows = toRows(event, {
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          timestamp: Number(record.timestamp),
        });
        groups.push({ record, rows });
      } catch (error) {
        if (!(error instanceof InvalidInputError)) throw error; // registry down etc.: retry the batch
        dead.push({ error, record });
      }
    }
    await insertIsolating(groups, dead, signal);
    await deps.deadLetter(dead);
    if (dead.length > 0) deps.log.warn({ deadLettered: dead.length, records: records.length }, 'records dead-lettered');
    return { records: records.length, rows: groups.reduce((n, g) => n + g.rows.length, 0), deadLettered: dead.length };
  };
}
