/**
 * Ordered, idempotent ClickHouse migrations. Each component keeps numbered .sql files
 * (`001_name.sql`); applied ones are recorded with a checksum, so a re-run applies only new files
 * and an edited, already-applied file is refused instead of silently diverging.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { BackboneError } from '../errors.ts';
import { classifyClickHouseError, queryRows } from './client.ts';

export interface Migration {
  version: number;
  name: string;
  statements: string[];
  checksum: string;
}

export class MigrationError extends BackboneError {}

/** Splits a file into statements at semicolons that end a line; `--` comment lines are dropped. */
export function splitStatements(sql: string): string[] {
  const withoutComments = sql
    .split('\n')
    .filter((line) => !line.trim().startsWith('--'))
    .join('\n');
  return withoutComments
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function loadMigrations(dir: string): Migration[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const seen = new Set<number>();
  return files.map((file) => {
    const match = /^(\d+)_([\w-]+)\.sql$/.exec(file);
    if (match === null) throw new MigrationError(`${dir}/${file}: migration files are named NNN_name.sql`);
    const version = Number(match[1]);
    if (seen.has(version)) throw new MigrationError(`${dir}: two migrations numbered ${version}`);
    seen.add(version);
    const sql = readFileSync(path.join(dir, file), 'utf8');
    return {
      version,
      name: match[2] ?? file,
      statements: splitStatements(sql),
      checksum: createHash('sha256').update(sql).digest('hex'),
    };
  });
}

/**
 * Applies the component's pending migrations to `database` (created if missing). The client must
 * not be bound to a database that may not exist yet; statements run with `database` as default.
 */
export async function migrate(
  client: ClickHouseClient,
  database: string,
  component: string,
  migrations: Migration[],
): Promise<string[]> {
  const run = async (query: string): Promise<void> => {
    try {
      await client.command({ query, clickhouse_settings: { wait_end_of_query: 1 } });
    } catch (error) {
      throw classifyClickHouseError(`migration statement '${query.slice(0, 80)}'`, error);
    }
  };
  await run(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(database)}`);
  const db = quoteIdentifier(database);
  await run(
    `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations (component String, version UInt32, name String, checksum String, applied_at DateTime64(3) DEFAULT now64(3)) ENGINE = ReplacingMergeTree ORDER BY (component, version)`,
  );
  const applied = await queryRows<{ version: number; checksum: string }>(
    client,
    `SELECT version, checksum FROM ${db}.schema_migrations FINAL WHERE component = {component:String}`,
    { component },
  );
  const byVersion = new Map(applied.map((a) => [Number(a.version), a.checksum]));
  const done: string[] = [];
  for (const m of migrations) {
    const recorded = byVersion.get(m.version);
    if (recorded !== undefined) {
      if (recorded !== m.checksum) {
        throw new MigrationError(
          `${component} migration ${m.version}_${m.name} was changed after it was applied; add a new migration instead`,
        );
      }
      continue;
    }
    for (const statement of m.statements) {
      // Migrations are committed SQL, not user input; the database name is a validated identifier.
      await run(statement.replaceAll('{db}', db));
    }
    await client.insert({
      table: `${db}.schema_migrations`,
      values: [{ component, version: m.version, name: m.name, checksum: m.checksum }],
      format: 'JSONEachRow',
    });
    done.push(`${m.version}_${m.name}`);
  }
  return done;
}

export function quoteIdentifier(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new MigrationError(`not a valid identifier: ${name}`);
  return `\`${name}\``;
}
