/**
 * Typed configuration, validated once at start-up. This module is the only reader of the
 * environment: everything else receives a `Config`. Keys are declared as data below; unknown
 * BACKBONE_* variables are rejected so a typo cannot silently fall back to a default.
 */
import { ConfigError } from './errors.ts';

type Parser<T> = (raw: string, key: string) => T;

/** What derived defaults may depend on; these keys are declared before the keys that use them. */
interface Ports {
  kafkaPort?: number;
  registryPort?: number;
  clickhousePort?: number;
}

interface KeySpec<T> {
  env: string;
  doc: string;
  parse: Parser<T>;
  /** Default value, or a function of the ports parsed before it (for derived URLs). */
  default: T | ((ports: Ports) => T);
  secret?: boolean;
}

const port: Parser<number> = (raw, key) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new ConfigError(key, `expected a TCP port (1-65535), got '${raw}'`);
  }
  return n;
};

const positiveInt: Parser<number> = (raw, key) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(key, `expected a positive integer, got '${raw}'`);
  return n;
};

const text: Parser<string> = (raw) => raw;

const url: Parser<string> = (raw, key) => {
  try {
    const parsed = new URL(raw);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
    return raw.replace(/\/+$/, '');
  } catch {
    throw new ConfigError(key, `expected an http(s) URL such as http://127.0.0.1:8123, got '${raw}'`);
  }
};

const brokers: Parser<string[]> = (raw, key) => {
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 0 || !list.every((b) => /^[\w.-]+:\d{1,5}$/.test(b) || /^\[[\da-f:]+\]:\d{1,5}$/i.test(b))) {
    throw new ConfigError(key, `expected a comma-separated list of host:port, got '${raw}'`);
  }
  return list;
};

const oneOf =
  <T extends string>(...values: T[]): Parser<T> =>
  (raw, key) => {
    if ((values as string[]).includes(raw)) return raw as T;
    throw new ConfigError(key, `expected one of ${values.join(', ')}, got '${raw}'`);
  };

const identifier: Parser<string> = (raw, key) => {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(raw)) {
    throw new ConfigError(key, `expected an identifier (letters, digits, _), got '${raw}'`);
  }
  return raw;
};

const topicPrefix: Parser<string> = (raw, key) => {
  if (raw !== '' && !/^[A-Za-z0-9._-]+$/.test(raw)) {
    throw new ConfigError(key, `expected letters, digits, '.', '_' or '-', got '${raw}'`);
  }
  return raw;
};

const KEYS = {
  kafkaPort: { env: 'BACKBONE_KAFKA_PORT', doc: 'Port of the native Kafka broker', parse: port, default: 9092 },
  kafkaControllerPort: {
    env: 'BACKBONE_KAFKA_CONTROLLER_PORT',
    doc: 'Port of the native Kafka KRaft controller',
    parse: port,
    default: 9093,
  },
  registryPort: { env: 'BACKBONE_REGISTRY_PORT', doc: 'Port of the native schema registry', parse: port, default: 8081 },
  clickhousePort: {
    env: 'BACKBONE_CLICKHOUSE_PORT',
    doc: 'HTTP port of the native ClickHouse',
    parse: port,
    default: 8123,
  },
  kafkaBrokers: {
    env: 'BACKBONE_KAFKA_BROKERS',
    doc: 'Kafka bootstrap servers, comma-separated host:port',
    parse: brokers,
    default: (c: Ports) => [`127.0.0.1:${c.kafkaPort ?? 9092}`],
  },
  kafkaClientId: { env: 'BACKBONE_KAFKA_CLIENT_ID', doc: 'Kafka client id', parse: text, default: 'backbone' },
  registryUrl: {
    env: 'BACKBONE_REGISTRY_URL',
    doc: 'Confluent-compatible schema registry API base URL',
    parse: url,
    default: (c: Ports) => `http://127.0.0.1:${c.registryPort ?? 8081}/apis/ccompat/v7`,
  },
  registryUsername: { env: 'BACKBONE_REGISTRY_USERNAME', doc: 'Registry basic-auth user', parse: text, default: '' },
  registryPassword: {
    env: 'BACKBONE_REGISTRY_PASSWORD',
    doc: 'Registry basic-auth password',
    parse: text,
    default: '',
    secret: true,
  },
  clickhouseUrl: {
    env: 'BACKBONE_CLICKHOUSE_URL',
    doc: 'ClickHouse HTTP endpoint',
    parse: url,
    default: (c: Ports) => `http://127.0.0.1:${c.clickhousePort ?? 8123}`,
  },
  clickhouseUser: { env: 'BACKBONE_CLICKHOUSE_USER', doc: 'ClickHouse user', parse: text, default: 'default' },
  clickhousePassword: {
    env: 'BACKBONE_CLICKHOUSE_PASSWORD',
    doc: 'ClickHouse password',
    parse: text,
    default: '',
    secret: true,
  },
  clickhouseDatabase: {
    env: 'BACKBONE_CLICKHOUSE_DATABASE',
    doc: 'ClickHouse database holding the views',
    parse: identifier,
    default: 'backbone',
  },
  topicPrefix: {
    env: 'BACKBONE_TOPIC_PREFIX',
    doc: 'Prefix put before every catalogue topic name (isolates environments and tests)',
    parse: topicPrefix,
    default: '',
  },
  sinkBatchSize: {
    env: 'BACKBONE_SINK_BATCH_SIZE',
    doc: 'Rows per ClickHouse insert at most',
    parse: positiveInt,
    default: 5000,
  },
  sinkBatchMaxMs: {
    env: 'BACKBONE_SINK_BATCH_MAX_MS',
    doc: 'Longest a row waits in the sink before its batch is flushed',
    parse: positiveInt,
    default: 250,
  },
  logLevel: {
    env: 'BACKBONE_LOG_LEVEL',
    doc: 'Log level',
    parse: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
    default: 'info',
  },
  telemetryExporter: {
    env: 'BACKBONE_TELEMETRY_EXPORTER',
    doc: 'Where spans go: none, console or otlp',
    parse: oneOf('none', 'console', 'otlp'),
    default: 'none',
  },
  otlpEndpoint: {
    env: 'BACKBONE_OTLP_ENDPOINT',
    doc: 'OTLP/HTTP traces endpoint when the exporter is otlp',
    parse: url,
    default: 'http://127.0.0.1:4318/v1/traces',
  },
  dockerHost: {
    env: 'DOCKER_HOST',
    doc: 'Docker engine address; when one answers, integration tests may use testcontainers',
    parse: text,
    default: '',
  },
  stackMode: {
    env: 'BACKBONE_STACK',
    doc: 'Which stack integration tests use: native (default), testcontainers, or external (already running)',
    parse: oneOf('native', 'testcontainers', 'external'),
    default: 'native',
  },
} satisfies Record<string, KeySpec<unknown>>;

type Keys = typeof KEYS;
type FlatConfig = { [K in keyof Keys]: Keys[K] extends { parse: Parser<infer T> } ? T : never };
export type Config = Readonly<FlatConfig>;
export type ConfigKey = keyof Keys;

/** Environment variables we read that are not ours to reject (DOCKER_HOST). */
const FOREIGN_ENV = new Set(
  Object.values(KEYS)
    .map((k) => k.env)
    .filter((e) => !e.startsWith('BACKBONE_')),
);

/**
 * Builds the configuration from environment variables and explicit overrides (CLI flags, tests).
 * Overrides are given as raw strings by config key so that they go through the same parsers.
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  overrides: Partial<Record<ConfigKey, string>> = {},
): Config {
  const known = new Set(Object.values(KEYS).map((k) => k.env));
  const unknown = Object.keys(env).filter((name) => name.startsWith('BACKBONE_') && !known.has(name));
  if (unknown.length > 0) {
    const name = unknown[0] ?? '';
    throw new ConfigError(name, `unknown setting; known settings are: ${[...known].filter((k) => !FOREIGN_ENV.has(k)).join(', ')}`);
  }
  for (const key of Object.keys(overrides)) {
    if (!(key in KEYS)) throw new ConfigError(key, `unknown setting; known settings are: ${Object.keys(KEYS).join(', ')}`);
  }
  const partial: Partial<FlatConfig> = {};
  const mutable = partial as Record<string, unknown>;
  for (const [key, spec] of Object.entries(KEYS) as [ConfigKey, KeySpec<unknown>][]) {
    const raw = overrides[key] ?? env[spec.env];
    if (raw !== undefined && raw !== '') {
      mutable[key] = spec.parse(raw.trim(), spec.env);
    } else {
      mutable[key] = typeof spec.default === 'function' ? (spec.default as (p: Ports) => unknown)(partial) : spec.default;
    }
  }
  return Object.freeze(partial as FlatConfig);
}

/** The settings as a table for docs and `backbone config`, secrets masked. */
export function describeConfig(config: Config): { env: string; value: string; doc: string }[] {
  return (Object.entries(KEYS) as [ConfigKey, KeySpec<unknown>][]).map(([key, spec]) => {
    const value = config[key];
    const shown = spec.secret === true && value !== '' ? '***' : Array.isArray(value) ? value.join(',') : String(value);
    return { env: spec.env, value: shown, doc: spec.doc };
  });
}

/**
 * Environment for a child process of ours (a sink started by a test or a benchmark): the system's
 * PATH and HOME, plus exactly the given BACKBONE_* settings; nothing else is inherited.
 */
export function childEnv(settings: Record<string, string>, env: Record<string, string | undefined> = process.env): Record<string, string> {
  const base: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR']) {
    const value = env[name];
    if (value !== undefined) base[name] = value;
  }
  return { ...base, ...settings };
}
