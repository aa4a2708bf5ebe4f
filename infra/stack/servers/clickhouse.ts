import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LOOPBACK, httpRequest } from '../net.ts';
import { INFRA_DIR, confDir, dataDir } from '../paths.ts';
import type { StackOptions } from '../types.ts';
import type { LaunchSpec, ServerContext, ServerDef } from './server.ts';

const CONFIG_TEMPLATE = join(INFRA_DIR, 'clickhouse', 'config.xml');

/**
 * clickhouse-local serves HTTP only while a query runs: start the listener, then run a query that
 * sleeps a row per second for ten years. It uses no CPU, and SIGTERM ends it cleanly.
 */
const SERVE_QUERY =
  'SYSTEM START LISTEN HTTP; ' +
  'SELECT sleepEachRow(1) FROM numbers(315360000) SETTINGS max_block_size = 1 FORMAT Null';

const configFile = (ctx: ServerContext): string => join(confDir(ctx.paths, 'clickhouse'), 'config.xml');
const baseUrl = (opts: StackOptions): string => `http://${LOOPBACK}:${opts.clickhousePort}`;

async function prepare(ctx: ServerContext): Promise<void> {
  const data = dataDir(ctx.paths, 'clickhouse');
  await mkdir(data, { recursive: true });
  await mkdir(confDir(ctx.paths, 'clickhouse'), { recursive: true });
  const template = await readFile(CONFIG_TEMPLATE, 'utf8');
  await writeFile(configFile(ctx), template.replaceAll('{{DATA_DIR}}', data));
}

function launch(ctx: ServerContext): LaunchSpec {
  const data = dataDir(ctx.paths, 'clickhouse');
  return {
    command: ctx.paths.launcher,
    args: [
      ctx.paths.chdbLib,
      `--path=${data}/`,
      `--listen_host=${LOOPBACK}`,
      `--http_port=${ctx.opts.clickhousePort}`,
      `--config-file=${configFile(ctx)}`,
      // The config file's logger.level is ignored by clickhouse-local; only this flag works.
      '--log-level=warning',
      `--query=${SERVE_QUERY}`,
    ],
    cwd: data,
  };
}

async function isReady(ctx: ServerContext): Promise<boolean> {
  const answer = await httpRequest(`${baseUrl(ctx.opts)}/ping`);
  return answer?.status === 200 && answer.body.trim() === 'Ok.';
}

export const clickhouseServer: ServerDef = {
  name: 'clickhouse',
  port: (opts) => opts.clickhousePort,
  ports: (opts) => [opts.clickhousePort],
  url: baseUrl,
  prepare,
  launch,
  isReady,
};
