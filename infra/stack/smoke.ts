/**
 * Exercises the stack manager without the CLI:
 *   node --import tsx infra/stack/smoke.ts install|up|down|status|logs [server] [lines]|reset
 *        [--root=<dir>] [--ports=<kafka>,<controller>,<registry>,<clickhouse>]
 * Defaults: this checkout as the root and the standard ports 9092,9093,8081,8123.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { StackError, down, install, logs, reset, status, up, type ServerName, type StackOptions } from './index.ts';
import { ROOT } from '../../platform/paths.ts';

const { values: flags, positionals } = parseArgs({
  options: { root: { type: 'string' }, ports: { type: 'string' } },
  allowPositionals: true,
});

function options(): StackOptions {
  const [kafkaPort = 9092, kafkaControllerPort = 9093, registryPort = 8081, clickhousePort = 8123] = (flags.ports ?? '')
    .split(',')
    .filter((part) => part !== '')
    .map(Number);
  return {
    root: resolve(flags.root ?? ROOT),
    kafkaPort,
    kafkaControllerPort,
    registryPort,
    clickhousePort,
  };
}

const opts = options();

const SERVER_NAMES: readonly string[] = ['kafka', 'registry', 'clickhouse'];
const isServerName = (value: string | undefined): value is ServerName => value !== undefined && SERVER_NAMES.includes(value);

async function main(command: string | undefined, arg: string | undefined, lines: string | undefined): Promise<void> {
  const started = Date.now();
  switch (command) {
    case 'install':
      await install(opts);
      break;
    case 'up':
      console.table(await up(opts));
      break;
    case 'down':
      await down(opts);
      break;
    case 'status':
      console.table(await status(opts));
      break;
    case 'logs':
      console.log(await logs(opts, isServerName(arg) ? arg : undefined, lines === undefined ? undefined : Number(lines)));
      break;
    case 'reset':
      await reset(opts);
      break;
    default:
      console.error('usage: smoke.ts install|up|down|status|logs [server] [lines]|reset');
      process.exitCode = 2;
      return;
  }
  console.error(`${command}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

try {
  await main(positionals[0], positionals[1], positionals[2]);
} catch (err) {
  if (!(err instanceof StackError)) throw err;
  console.error(`error (${err.code}): ${err.message}`);
  process.exitCode = 1;
}
