/** `backbone stack`: the native Kafka + schema registry + ClickHouse, installed and run on loopback. */
import type { Config } from '../platform/config.ts';
import { InvalidInputError } from '../platform/errors.ts';
import * as stack from '../infra/stack/index.ts';
import { ROOT } from '../platform/paths.ts';

export function stackOptions(config: Config): stack.StackOptions {
  return {
    root: ROOT,
    kafkaPort: config.kafkaPort,
    kafkaControllerPort: config.kafkaControllerPort,
    registryPort: config.registryPort,
    clickhousePort: config.clickhousePort,
  };
}

/** Which setting moves each server's port, for "port in use" messages. */
export const PORT_SETTINGS = {
  kafka: 'BACKBONE_KAFKA_PORT (and BACKBONE_KAFKA_CONTROLLER_PORT)',
  registry: 'BACKBONE_REGISTRY_PORT',
  clickhouse: 'BACKBONE_CLICKHOUSE_PORT',
} as const;

function printStatus(rows: stack.ServerStatus[]): void {
  for (const s of rows) {
    console.log(`${s.name.padEnd(11)} ${s.state.padEnd(10)} ${s.pid === undefined ? '-'.padEnd(8) : String(s.pid).padEnd(8)} ${s.url.padEnd(46)} log: ${s.logFile}`);
  }
}

const SERVERS: readonly stack.ServerName[] = ['kafka', 'registry', 'clickhouse'];

export async function stackCommand(args: string[], config: Config): Promise<number> {
  const [sub, arg] = args;
  const opts = stackOptions(config);
  try {
    switch (sub) {
      case 'install':
        await stack.install(opts);
        return 0;
      case 'up':
        printStatus(await stack.up(opts));
        return 0;
      case 'down':
        await stack.down(opts);
        return 0;
      case 'status': {
        const rows = await stack.status(opts);
        printStatus(rows);
        return rows.every((r) => r.state === 'running') ? 0 : 3;
      }
      case 'logs': {
        if (arg !== undefined && !SERVERS.includes(arg as stack.ServerName)) {
          throw new InvalidInputError(`unknown server '${arg}'; one of ${SERVERS.join(', ')}`);
        }
        process.stdout.write(await stack.logs(opts, arg as stack.ServerName | undefined));
        return 0;
      }
      case 'reset':
        await stack.reset(opts);
        return 0;
      default:
        throw new InvalidInputError('usage: backbone stack up|down|status|logs [server]|reset|install');
    }
  } catch (error) {
    if (error instanceof stack.StackError && /port \d+ is in use/i.test(error.message)) {
      const server = SERVERS.find((s) => error.message.toLowerCase().includes(s));
      const hint = server === undefined ? 'the BACKBONE_*_PORT settings' : PORT_SETTINGS[server];
      throw new InvalidInputError(`${error.message}; choose another port with ${hint}`);
    }
    throw error;
  }
}
