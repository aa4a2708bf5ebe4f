import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { StackError } from '../errors.ts';
import { LOOPBACK, httpRequest } from '../net.ts';
import { dataDir } from '../paths.ts';
import type { StackOptions } from '../types.ts';
import { APICURIO_RUNNER_JAR } from '../versions.ts';
import type { LaunchSpec, ServerContext, ServerDef } from './server.ts';

/** Apicurio's Confluent-compatible API, which the project's registry client and standard Confluent clients talk to. */
const CCOMPAT_PATH = '/apis/ccompat/v7';
const baseUrl = (opts: StackOptions): string => `http://${LOOPBACK}:${opts.registryPort}`;

async function prepare(ctx: ServerContext): Promise<void> {
  await mkdir(dataDir(ctx.paths, 'registry'), { recursive: true });
}

function launch(ctx: ServerContext): LaunchSpec {
  // H2 in file mode keeps schemas (and their ids) across restarts; the default is in-memory.
  const database = join(dataDir(ctx.paths, 'registry'), 'registry');
  return {
    command: 'java',
    args: [
      '-Xmx384m',
      '-XX:+ExitOnOutOfMemoryError',
      '-Djava.awt.headless=true',
      `-Dquarkus.http.host=${LOOPBACK}`,
      `-Dquarkus.http.port=${ctx.opts.registryPort}`,
      '-Dapicurio.storage.kind=sql',
      '-Dapicurio.storage.sql.kind=h2',
      `-Dapicurio.datasource.url=jdbc:h2:file:${database}`,
      // The pool otherwise opens 20 connections up front, pointless for one embedded file.
      '-Dapicurio.datasource.jdbc.initial-size=2',
      '-Dapicurio.datasource.jdbc.min-size=2',
      '-Dapicurio.datasource.jdbc.max-size=20',
      // Every request would be logged at INFO, including our readiness probes.
      '-Dquarkus.http.access-log.enabled=false',
      '-jar',
      join(ctx.paths.registryApp, APICURIO_RUNNER_JAR),
    ],
    cwd: dataDir(ctx.paths, 'registry'),
  };
}

async function isReady(ctx: ServerContext): Promise<boolean> {
  const answer = await httpRequest(`${baseUrl(ctx.opts)}${CCOMPAT_PATH}/subjects`);
  return answer?.status === 200;
}

/**
 * Apicurio's global compatibility default is NONE; the project's contract (and Confluent's
 * default) is BACKWARD. Setting it on every start is idempotent.
 */
async function afterReady(ctx: ServerContext): Promise<void> {
  const answer = await httpRequest(`${baseUrl(ctx.opts)}${CCOMPAT_PATH}/config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ compatibility: 'BACKWARD' }),
  });
  if (answer?.status !== 200) {
    throw new StackError(
      `registry: setting global compatibility to BACKWARD failed (${answer === undefined ? 'no answer' : `HTTP ${answer.status}: ${answer.body}`}).`,
      { code: 'START_FAILED', server: 'registry' },
    );
  }
}

export const registryServer: ServerDef = {
  name: 'registry',
  port: (opts) => opts.registryPort,
  ports: (opts) => [opts.registryPort],
  url: (opts) => `${baseUrl(opts)}${CCOMPAT_PATH}`,
  prepare,
  launch,
  isReady,
  afterReady,
};
