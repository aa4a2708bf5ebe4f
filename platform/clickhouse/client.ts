/**
 * ClickHouse access for services: one client per process, every value passed as a query
 * parameter (never concatenated into SQL), inserts with deduplication tokens so a retried batch
 * is stored once.
 */
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import type { Config } from '../config.ts';
import { DependencyError, InvalidInputError, describeError } from '../errors.ts';

export type { ClickHouseClient };

export function createClickHouse(config: Config, database: string = config.clickhouseDatabase): ClickHouseClient {
  return createClient({
    url: config.clickhouseUrl,
    username: config.clickhouseUser,
    password: config.clickhousePassword,
    database,
    request_timeout: 15_000,
    max_open_connections: 8,
    // The client's own error log would print query parameters (patient ids); failures reach our log as errors instead.
    log: { level: ClickHouseLogLevel.OFF },
    clickhouse_settings: {
      // Inserts return only once the data is written: the sink commits offsets after that.
      async_insert: 0,
      wait_end_of_query: 1,
    },
  });
}

/**
 * ClickHouse error codes that mean the DATA of an insert is wrong: retrying cannot help, and the
 * sink isolates and dead-letters the offending records. Everything else (unknown table or database,
 * authentication, syntax — our own or the environment's fault — and transport errors) fails the
 * whole batch so it is read again later: never a reason to dead-letter good records.
 */
const DATA_ERROR_CODES = new Set([
  '6', // CANNOT_PARSE_TEXT
  '26', // CANNOT_PARSE_QUOTED_STRING
  '27', // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  '32', // ATTEMPT_TO_READ_AFTER_EOF
  '38', // CANNOT_PARSE_DATE
  '41', // CANNOT_PARSE_DATETIME
  '53', // TYPE_MISMATCH
  '69', // ARGUMENT_OUT_OF_BOUND
  '70', // CANNOT_CONVERT_TYPE
  '72', // CANNOT_PARSE_NUMBER
  '117', // INCORRECT_DATA
  '131', // TOO_LARGE_STRING_SIZE
  '321', // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
  '349', // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
  '407', // DECIMAL_OVERFLOW
]);

function errorCode(error: unknown): string {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
}

/**
 * Wraps a ClickHouse failure in the error tree. The message names the code and its type but does
 * not copy the server's text, which can quote the offending values (patient ids).
 */
export function classifyClickHouseError(what: string, error: unknown): Error {
  const code = errorCode(error);
  const type = typeof error === 'object' && error !== null && 'type' in error ? String(error.type) : '';
  if (DATA_ERROR_CODES.has(code)) {
    return new InvalidInputError(`${what}: ClickHouse refused the data (code ${code}${type === '' ? '' : ` ${type}`})`, { cause: error });
  }
  if (code !== '') {
    return new DependencyError('clickhouse', `${what}: ClickHouse error code ${code}${type === '' ? '' : ` ${type}`}`, { cause: error });
  }
  return new DependencyError('clickhouse', `${what}: ${describeError(error)}`, { cause: error });
}

export async function insertRows(
  client: ClickHouseClient,
  table: string,
  rows: readonly object[],
  dedupToken: string,
): Promise<void> {
  if (rows.length === 0) return;
  try {
    await client.insert({
      table,
      values: rows as object[],
      format: 'JSONEachRow',
      clickhouse_settings: { insert_deduplication_token: dedupToken, date_time_input_format: 'best_effort' },
    });
  } catch (error) {
    throw classifyClickHouseError(`insert into ${table}`, error);
  }
}

export async function queryRows<T>(client: ClickHouseClient, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  try {
    const result = await client.query({ query, query_params: params, format: 'JSONEachRow' });
    return await result.json<T>();
  } catch (error) {
    throw classifyClickHouseError('query', error);
  }
}

export async function ping(client: ClickHouseClient): Promise<{ success: true } | { success: false; error: string }> {
  const result = await client.ping();
  return result.success ? { success: true } : { success: false, error: describeError(result.error) };
}
