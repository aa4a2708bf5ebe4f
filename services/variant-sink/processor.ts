/**
 * The sink's batch step, with its I/O injected so tests can drive it directly. Idempotent: the
 * same records always produce the same rows and dedup tokens, so redelivery changes nothing.
 * The generic part (decode, insert with retry, isolate refused records, dead-letter) is
 * platform/clickhouse/sink.ts; this file binds it to `variant_calls`.
 */
import { createBatchSink, type BatchSink } from '../../platform/clickhouse/sink.ts';
import type { DeadLetterInput } from '../../platform/dead-letter.ts';
import type { GenotypeCallSet, VariantBlock } from '../../platform/events.ts';
import type { IncomingRecord } from '../../platform/kafka/port.ts';
import type { Logger } from '../../platform/log.ts';
import type { RetryOptions } from '../../platform/retry.ts';
import { VARIANT_TABLE, blockRows, dedupToken, toRows, type VariantCallRow } from './core.ts';

export type { BatchOutcome } from '../../platform/clickhouse/sink.ts';

export interface SinkDeps {
  decode: (record: IncomingRecord) => Promise<GenotypeCallSet | VariantBlock>;
  insert: (rows: VariantCallRow[], token: string) => Promise<void>;
  deadLetter: (inputs: DeadLetterInput[]) => Promise<void>;
  log: Logger;
  retry?: Omit<RetryOptions, 'what'>;
}

/** Genotype events and variant blocks → `variant_calls` rows (one per call). */
export function variantTableRows(event: GenotypeCallSet | VariantBlock, meta: Parameters<typeof toRows>[1]): { table: string; rows: VariantCallRow[] }[] {
  return [{ table: VARIANT_TABLE, rows: 'sites' in event ? blockRows(event, meta) : toRows(event, meta) }];
}

export function createSinkProcessor(deps: SinkDeps): BatchSink {
  return createBatchSink<GenotypeCallSet | VariantBlock, VariantCallRow>({
    decode: deps.decode,
    toRows: variantTableRows,
    insert: (_table, rows, token) => deps.insert(rows, token),
    deadLetter: deps.deadLetter,
    log: deps.log,
    token: (_table, rows) => dedupToken(rows),
    ...(deps.retry === undefined ? {} : { retry: deps.retry }),
  });
}
