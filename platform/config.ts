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
  servePort?: number;
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

/** ISSUER=JWKS_URL entries, comma-separated (issuers and URLs contain no commas). */
const issuerList: Parser<string[]> = (raw, key) => {
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of list) {
    const at = item.indexOf('=');
    const jwks = at > 0 ? item.slice(at + 1) : '';
    if (!/^https?:\/\//.test(jwks)) throw new ConfigError(key, `expected ISSUER=JWKS_URL entries separated by commas, got '${item}'`);
  }
  return list;
};

/** CLIENT=TOKEN entries, comma-separated; tokens long enough to be secrets. */
const clientTokens: Parser<string[]> = (raw, key) => {
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of list) {
    const at = item.indexOf('=');
    if (at < 1 || item.length - at - 1 < 32) throw new ConfigError(key, 'expected CLIENT=TOKEN entries separated by commas, each token at least 32 characters');
  }
  return list;
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
    doc: 'Kafka records per sink batch at most (one record can hold many rows)',
    parse: positiveInt,
    default: 5000,
  },
  sinkBatchBytes: {
    env: 'BACKBONE_SINK_BATCH_BYTES',
    doc: 'Bytes of Kafka record values per sink batch at most (bounds memory: one variant block holds ~40,000 calls in 512 KB, each a row)',
    parse: positiveInt,
    default: 2 * 1024 * 1024,
  },
  sinkBatchMaxMs: {
    env: 'BACKBONE_SINK_BATCH_MAX_MS',
    doc: 'Longest a row waits in the sink before its batch is flushed',
    parse: positiveInt,
    default: 250,
  },
  processorBatchSize: {
    env: 'BACKBONE_PROCESSOR_BATCH_SIZE',
    doc: 'Input records per PGx processor transaction at most',
    parse: positiveInt,
    default: 2000,
  },
  processorBatchBytes: {
    env: 'BACKBONE_PROCESSOR_BATCH_BYTES',
    doc: 'Bytes of input record values per PGx processor transaction at most (bounds memory on large genotype events)',
    parse: positiveInt,
    default: 8 * 1024 * 1024,
  },
  processorBatchMaxMs: {
    env: 'BACKBONE_PROCESSOR_BATCH_MAX_MS',
    doc: 'Longest an input waits in the PGx processor before its batch is processed',
    parse: positiveInt,
    default: 30,
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
  servePort: { env: 'BACKBONE_SERVE_PORT', doc: 'Port of `backbone serve` (read API, CDS Hooks, page)', parse: port, default: 8088 },
  serveHost: { env: 'BACKBONE_SERVE_HOST', doc: 'Address `backbone serve` listens on', parse: text, default: '127.0.0.1' },
  publicUrl: {
    env: 'BACKBONE_PUBLIC_URL',
    doc: 'Base URL clients use to reach `backbone serve`; CDS client JWTs must name its /cds-services URL as aud',
    parse: url,
    default: (c: Ports) => `http://127.0.0.1:${c.servePort ?? 8088}`,
  },
  authIssuers: {
    env: 'BACKBONE_AUTH_ISSUERS',
    doc: 'Trusted issuers of read-API user tokens: comma-separated ISSUER=JWKS_URL',
    parse: issuerList,
    default: [] as string[],
  },
  authAudience: { env: 'BACKBONE_AUTH_AUDIENCE', doc: 'aud that read-API user tokens must carry', parse: text, default: 'backbone' },
  cdsClients: {
    env: 'BACKBONE_CDS_CLIENTS',
    doc: 'CDS Hooks clients allowed to call (issuer allow-list): comma-separated ISSUER=JWKS_URL',
    parse: issuerList,
    default: [] as string[],
  },
  cdsPatientIdSystem: {
    env: 'BACKBONE_CDS_PATIENT_ID_SYSTEM',
    doc: "Identifier system of the pseudonymous id on the FHIR Patient; empty: context.patientId is the backbone's patient id",
    parse: text,
    default: '',
  },
  pocBatchMaxMs: {
    env: 'BACKBONE_POC_BATCH_MAX_MS',
    doc: 'Longest a profile or alert waits before the point-of-care state applies it',
    parse: positiveInt,
    default: 10,
  },
  webhookAttempts: { env: 'BACKBONE_WEBHOOK_ATTEMPTS', doc: 'Delivery attempts per webhook before dead-lettering', parse: positiveInt, default: 5 },
  webhookInitialDelayMs: {
    env: 'BACKBONE_WEBHOOK_INITIAL_DELAY_MS',
    doc: 'First webhook retry delay; doubles per attempt (with jitter)',
    parse: positiveInt,
    default: 500,
  },
  webhookTimeoutMs: { env: 'BACKBONE_WEBHOOK_TIMEOUT_MS', doc: 'Timeout of one webhook delivery attempt', parse: positiveInt, default: 5000 },
  chromiumPath: {
    env: 'BACKBONE_CHROMIUM',
    doc: 'Chromium executable for the browser tests; empty: found on PATH (installed with apt-get when missing)',
    parse: text,
    default: '',
  },
  vcfPseudonymKey: {
    env: 'BACKBONE_VCF_PSEUDONYM_KEY',
    doc: 'VCF connector: key of the keyed hash that turns VCF sample names into pseudonymous patient ids when no --samples map is given',
    parse: text,
    default: '',
    secret: true,
  },
  vcfUploadHost: { env: 'BACKBONE_VCF_UPLOAD_HOST', doc: 'Address `backbone vcf serve` (VCF upload endpoint) listens on', parse: text, default: '127.0.0.1' },
  vcfUploadPort: { env: 'BACKBONE_VCF_UPLOAD_PORT', doc: 'Port of `backbone vcf serve`', parse: port, default: 8089 },
  vcfUploadMaxBytes: {
    env: 'BACKBONE_VCF_UPLOAD_MAX_BYTES',
    doc: 'Largest VCF upload accepted, in bytes (larger ones get 413)',
    parse: positiveInt,
    default: 20_000_000_000,
  },
  vcfUploadTokens: {
    env: 'BACKBONE_VCF_UPLOAD_TOKENS',
    doc: 'Publishers allowed to upload VCFs: comma-separated CLIENT=BEARER_TOKEN (tokens of 32+ characters)',
    parse: clientTokens,
    default: [] as string[],
    secret: true,
  },
  vcfWatchSettleMs: {
    env: 'BACKBONE_VCF_WATCH_SETTLE_MS',
    doc: 'How long a file in the VCF drop folder must stay unchanged before it is published',
    parse: positiveInt,
    default: 2000,
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

/** A URL with its user and password masked, for messages and listings. */
export function withoutCredentials(text: string): string {
  return text.replace(/^(\w+:\/\/)[^/@\s]+@/, '$1***@');
}

/** The settings as a table for docs and `backbone config`, secrets masked. */
export function describeConfig(config: Config): { env: string; value: string; doc: string }[] {
  return (Object.entries(KEYS) as [ConfigKey, KeySpec<unknown>][]).map(([key, spec]) => {
    const value = config[key];
    const shown = spec.secret === true && value !== '' ? '***' : Array.isArray(value) ? value.join(',') : withoutCredentials(String(value));
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
