import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFile, mkdir, rename, stat } from 'node:fs/promises';
import { StackError } from './errors.ts';
import { portIsFree } from './net.ts';
import { logFile, pidFile, type StackPaths } from './paths.ts';
import {
  commandLineOf,
  isAlive,
  readPidFile,
  removeFile,
  seconds,
  sleep,
  spawnDetached,
  stopProcess,
  tailFile,
  writePidFile,
} from './process.ts';
import { clickhouseServer } from './servers/clickhouse.ts';
import { kafkaServer } from './servers/kafka.ts';
import { registryServer } from './servers/registry.ts';
import type { ServerContext, ServerDef } from './servers/server.ts';
import type { ServerName, ServerStatus } from './types.ts';

export const SERVERS: Readonly<Record<ServerName, ServerDef>> = {
  kafka: kafkaServer,
  registry: registryServer,
  clickhouse: clickhouseServer,
};

const READY_TIMEOUT_MS = 90_000;
const READY_POLL_MS = 250;
/** Kafka's controlled shutdown and Quarkus's both finish in a few seconds; this is the patience. */
const STOP_GRACE_MS = 30_000;
const LOG_ROTATE_BYTES = 10 * 1024 * 1024;
const FAILURE_TAIL_LINES = 40;

interface ProcessState {
  state: ServerStatus['state'];
  pid?: number;
}

/**
 * Reads our pid file and checks the process is still the one we started: every server's command
 * line names a path under .stack/run, which a recycled pid of an unrelated program would not.
 */
export async function processState(paths: StackPaths, name: ServerName): Promise<ProcessState> {
  const pid = await readPidFile(pidFile(paths, name));
  if (pid === undefined) return { state: 'stopped' };
  const commandLine = await commandLineOf(pid);
  if (commandLine?.includes(paths.run) === true) return { state: 'running', pid };
  return { state: 'stale-pid', pid };
}

export async function serverStatus(ctx: ServerContext, def: ServerDef): Promise<ServerStatus> {
  const { state, pid } = await processState(ctx.paths, def.name);
  const status: ServerStatus = {
    name: def.name,
    state,
    port: def.port(ctx.opts),
    url: def.url(ctx.opts),
    logFile: logFile(ctx.paths, def.name),
  };
  if (pid !== undefined) status.pid = pid;
  return status;
}

async function ensurePortsFree(ctx: ServerContext, def: ServerDef): Promise<void> {
  for (const port of def.ports(ctx.opts)) {
    if (!(await portIsFree(port))) {
      throw new StackError(
        `${def.name}: port ${port} is in use by another program; stop it or configure a different ${def.name} port.`,
        { code: 'PORT_IN_USE', server: def.name, port },
      );
    }
  }
}

/**
 * Checks the ports of every server that is not already ours and running, before starting any, so a
 * clash is reported up front rather than after Kafka and the registry are up.
 */
export async function preflightPorts(ctx: ServerContext, defs: readonly ServerDef[]): Promise<void> {
  for (const def of defs) {
    if ((await processState(ctx.paths, def.name)).state !== 'running') await ensurePortsFree(ctx, def);
  }
}

/** Keeps one previous generation, so a log never grows without bound across many starts. */
async function rotateLog(path: string): Promise<void> {
  try {
    if ((await stat(path)).size > LOG_ROTATE_BYTES) await rename(path, `${path}.1`);
  } catch {
    // No log yet.
  }
}

async function failureWithLog(ctx: ServerContext, def: ServerDef, what: string, code: 'START_FAILED' | 'NOT_READY'): Promise<StackError> {
  const path = logFile(ctx.paths, def.name);
  const tail = await tailFile(path, FAILURE_TAIL_LINES);
  return new StackError(`${def.name}: ${what}\n--- last ${FAILURE_TAIL_LINES} lines of ${path} ---\n${tail}`, {
    code,
    server: def.name,
    port: def.port(ctx.opts),
  });
}

/** Watches a child we spawned so an early exit is seen at once rather than after the timeout. */
function watchExit(child: ChildProcess): () => string | undefined {
  let exit: string | undefined;
  child.once('exit', (code, sig) => {
    exit = sig === null ? `exit code ${String(code)}` : `signal ${sig}`;
  });
  return () => exit;
}

async function waitReady(ctx: ServerContext, def: ServerDef, pid: number, exited: () => string | undefined): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const exit = exited();
    if (exit !== undefined) {
      await removeFile(pidFile(ctx.paths, def.name));
      throw await failureWithLog(ctx, def, `the process exited during start-up (${exit}).`, 'START_FAILED');
    }
    if (await def.isReady(ctx)) return;
    if (Date.now() > deadline) {
      await stopProcess(pid, STOP_GRACE_MS);
      await removeFile(pidFile(ctx.paths, def.name));
      throw await failureWithLog(ctx, def, `not ready after ${READY_TIMEOUT_MS / 1000} s; stopped it.`, 'NOT_READY');
    }
    await sleep(READY_POLL_MS);
  }
}

/** The started process and a probe for its early exit (listening from the very first tick). */
interface Spawned {
  pid: number;
  exited: () => string | undefined;
}

async function spawnServer(ctx: ServerContext, def: ServerDef): Promise<Spawned> {
  const spec = def.launch(ctx);
  const log = logFile(ctx.paths, def.name);
  await mkdir(ctx.paths.logs, { recursive: true });
  await rotateLog(log);
  await appendFile(log, `\n=== ${new Date().toISOString()} starting: ${spec.command} ${spec.args.join(' ')}\n`);
  const child = spawnDetached({ ...spec, logFile: log });
  const exited = watchExit(child);
  if (child.pid === undefined) {
    const [err] = (await once(child, 'error')) as [Error];
    throw new StackError(`${def.name}: could not start \`${spec.command}\`: ${err.message}`, {
      code: 'START_FAILED',
      server: def.name,
      cause: err,
    });
  }
  return { pid: child.pid, exited };
}

/** Starts one server unless ours is already running, and returns once it is really ready. */
export async function startServer(ctx: ServerContext, def: ServerDef): Promise<void> {
  const current = await processState(ctx.paths, def.name);
  if (current.state === 'running' && current.pid !== undefined) {
    const pid = current.pid;
    await waitReady(ctx, def, pid, () => (isAlive(pid) ? undefined : 'it is gone'));
    ctx.log(`${def.name}: already running (pid ${pid})`);
    return;
  }
  if (current.state === 'stale-pid') await removeFile(pidFile(ctx.paths, def.name));

  await ensurePortsFree(ctx, def);
  await def.prepare(ctx);
  const started = Date.now();
  ctx.log(`${def.name}: starting on ${def.url(ctx.opts)} ...`);
  const child = await spawnServer(ctx, def);
  await writePidFile(pidFile(ctx.paths, def.name), child.pid);
  await waitReady(ctx, def, child.pid, child.exited);
  await def.afterReady?.(ctx);
  ctx.log(`${def.name}: ready in ${seconds(Date.now() - started)} (pid ${child.pid})`);
}

/** Stops our process for one server (if any) and removes its pid file. */
export async function stopServer(ctx: ServerContext, def: ServerDef): Promise<void> {
  const { state, pid } = await processState(ctx.paths, def.name);
  const file = pidFile(ctx.paths, def.name);
  if (state === 'stopped' || pid === undefined) return;
  if (state === 'stale-pid') {
    await removeFile(file);
    ctx.log(`${def.name}: removed stale pid file (process ${pid} is gone)`);
    return;
  }
  const started = Date.now();
  const outcome = await stopProcess(pid, STOP_GRACE_MS);
  if (outcome === 'survived') {
    throw new StackError(`${def.name}: process ${pid} did not exit even after SIGKILL.`, {
      code: 'STOP_FAILED',
      server: def.name,
    });
  }
  await removeFile(file);
  const how = outcome === 'killed' ? `killed after ${STOP_GRACE_MS / 1000} s without exiting on SIGTERM` : 'stopped';
  ctx.log(`${def.name}: ${how} (pid ${pid}, ${seconds(Date.now() - started)})`);
}
