/**
 * The `backbone` CLI: one entry point whose subcommands are the composition roots of the
 * connectors, services and tools. Configuration is loaded once here and handed down.
 */
import { loadConfig, describeConfig, type Config } from '../platform/config.ts';
import { BackboneError, describeError } from '../platform/errors.ts';
import { createLogger } from '../platform/log.ts';

interface Command {
  summary: string;
  usage: string;
  run(args: string[], config: Config): Promise<number>;
}

const commands: Record<string, Command> = {
  stack: {
    summary: 'install, start, stop or inspect the native Kafka, schema registry and ClickHouse',
    usage: 'backbone stack up|down|status|logs [kafka|registry|clickhouse]|reset|install',
    run: async (args, config) => (await import('./stack.ts')).stackCommand(args, config),
  },
  setup: {
    summary: 'create topics, register schemas (BACKWARD) and migrate ClickHouse, from the catalogue',
    usage: 'backbone setup',
    run: async (_args, config) => (await import('./commands.ts')).setupCommand(config),
  },
  publish: {
    summary: 'publish a JSON Lines file of events (genotype-calls or outside-calls)',
    usage: 'backbone publish FILE [--kind genotype-calls|outside-calls] [--lab NAME]',
    run: async (args, config) => (await import('./commands.ts')).publishCommand(args, config),
  },
  vcf: {
    summary: 'VCF connector: publish VCF files (path, stdin, drop folder, HTTP upload) as genotype events',
    usage: 'backbone vcf publish FILE... [--samples map.tsv] [--dry-run | --json] | backbone vcf watch DIR | backbone vcf serve',
    run: async (args, config) => (await import('../connectors/vcf/cli.ts')).vcfCommand(args, config),
  },
  pgx: {
    summary: 'PGx engine: call star-allele diplotypes, phenotypes and CPIC recommendations from a VCF',
    usage: 'backbone pgx call FILE.vcf [--format tsv|json] [--candidates]',
    run: async (args, config) => (await import('./pgx.ts')).pgxCommand(args, config),
  },
  sink: {
    summary: 'run the variant sink (Kafka genotype events to ClickHouse) until SIGTERM/SIGINT',
    usage: 'backbone sink',
    run: async (_args, config) => (await import('./commands.ts')).sinkCommand(config),
  },
  processor: {
    summary: 'run the PGx processor (genotypes + outside calls to profiles and alerts) until SIGTERM/SIGINT',
    usage: 'backbone processor [--instance ID]',
    run: async (args, config) => (await import('./commands.ts')).processorCommand(args, config),
  },
  'views-sink': {
    summary: 'run the views sink (PGx profiles and alerts to the ClickHouse views) until SIGTERM/SIGINT',
    usage: 'backbone views-sink',
    run: async (_args, config) => (await import('./commands.ts')).viewsSinkCommand(config),
  },
  serve: {
    summary: 'serve the read API, CDS Hooks service, webhook subscriptions and the page against the running stack',
    usage: 'backbone serve [--port N] [--dev-issuer]',
    run: async (args, config) => (await import('./serve.ts')).serveCommand(args, config),
  },
  demo: {
    summary: 'start the stack and run the end-to-end demo on the committed demo data',
    usage: 'backbone demo',
    run: async (_args, config) => (await import('./demo.ts')).demoCommand(config),
  },
  schemas: {
    summary: 'schema tools: compat (check against released versions), release, docs',
    usage: 'backbone schemas compat|release|docs [--write]',
    run: async (args, config) => (await import('./schemas.ts')).schemasCommand(args, config),
  },
  bench: {
    summary: 'benchmark produce throughput and publish-to-ClickHouse freshness on the running stack',
    usage: 'backbone bench [--rate 2000] [--seconds 20] [--events 200000]',
    run: async (args, config) => (await import('../bench/foundation.ts')).benchCommand(args, config),
  },
  config: {
    summary: 'print the effective configuration (secrets masked)',
    usage: 'backbone config',
    run: async (_args, config) => {
      for (const row of describeConfig(config)) console.log(`${row.env.padEnd(34)} ${row.value.padEnd(44)} ${row.doc}`);
      return 0;
    },
  },
};

function help(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(9)} ${c.summary}`);
  return `backbone: event-streaming genomic data backbone\n\nusage: backbone <command> [options]\n\n${lines.join('\n')}\n\nSettings come from BACKBONE_* environment variables; 'backbone config' lists them.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (command === undefined) {
    console.error(`backbone: unknown command '${name}'\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`usage: ${command.usage}\n\n${command.summary}`);
    return 0;
  }
  const config = loadConfig();
  return command.run(rest, config);
}

// `backbone ... | head` closes stdout early; that is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  // Expected failures (bad config, server down, bad input) are one clear line; bugs get a stack.
  if (error instanceof BackboneError) {
    console.error(`backbone: ${describeError(error)}`);
  } else {
    const log = createLogger({ level: 'error', name: 'backbone' });
    log.error({ err: error }, 'unexpected failure');
    console.error(error);
  }
  process.exitCode = 1;
}

