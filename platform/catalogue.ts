/**
 * Loads the topic catalogue (schemas/catalogue.json) and the Avro schemas it names. The catalogue is
 * the single declaration of topics; creation, registration, docs and tests all read it from here.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidInputError } from './errors.ts';
import { fromRoot } from './paths.ts';

export const SCHEMAS_DIR = fromRoot('schemas');

export type CleanupPolicy = 'delete' | 'compact';

export interface TopicSpec {
  /** Name without the environment prefix. */
  name: string;
  doc: string;
  key: string;
  keyDoc: string;
  valueSchema: string;
  partitions: number;
  cleanupPolicy: CleanupPolicy;
  /** -1 keeps records forever. */
  retentionMs: number;
  /**
   * Written only in Kafka transactions: every write ends with a commit marker, which takes an offset
   * but is never delivered, so a reader that is done has committed one short of the end.
   */
  transactional: boolean;
}

export interface AvroRecordSchema {
  type: 'record';
  name: string;
  namespace?: string;
  doc?: string;
  fields: { name: string; type: unknown; doc?: string; default?: unknown }[];
}

export interface CatalogueEntry extends TopicSpec {
  /** Parsed Avro schema (JSON) of the value: always a named record. */
  schema: AvroRecordSchema;
  /** Full name of the value record, e.g. backbone.genomics.v1.GenotypeCallSet. */
  recordName: string;
}

export const TOPICS = {
  genotypeCalls: 'genomics.genotype-calls.v1',
  variantBlocks: 'genomics.variant-blocks.v1',
  outsideCalls: 'pgx.outside-calls.v1',
  sourceDocuments: 'ops.source-documents.v1',
  deadLetter: 'ops.dead-letter.v1',
  profiles: 'pgx.profiles.v1',
  alerts: 'pgx.alerts.v1',
  patientState: 'pgx.patient-state.v1',
  audit: 'ops.audit.v1',
} as const;
export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];

function fail(message: string): never {
  throw new InvalidInputError(`schemas/catalogue.json: ${message}`);
}

function validateSpec(raw: unknown, index: number): TopicSpec {
  if (typeof raw !== 'object' || raw === null) fail(`topics[${index}] is not an object`);
  const t = raw as Record<string, unknown>;
  const str = (k: string): string => {
    const v = t[k];
    return typeof v === 'string' && v !== '' ? v : fail(`topics[${index}].${k} must be a non-empty string`);
  };
  const int = (k: string): number => (Number.isInteger(t[k]) ? (t[k] as number) : fail(`topics[${index}].${k} must be an integer`));
  const allowed = new Set(['name', 'doc', 'key', 'keyDoc', 'valueSchema', 'partitions', 'cleanupPolicy', 'retentionMs', 'transactional']);
  if (t.transactional !== undefined && typeof t.transactional !== 'boolean') fail(`topics[${index}].transactional must be true or false`);
  for (const k of Object.keys(t)) if (!allowed.has(k)) fail(`topics[${index}] has unknown field '${k}'`);
  const cleanupPolicy = str('cleanupPolicy');
  if (cleanupPolicy !== 'delete' && cleanupPolicy !== 'compact') fail(`topics[${index}].cleanupPolicy must be delete or compact`);
  const spec: TopicSpec = {
    name: str('name'),
    doc: str('doc'),
    key: str('key'),
    keyDoc: str('keyDoc'),
    valueSchema: str('valueSchema'),
    partitions: int('partitions'),
    cleanupPolicy,
    retentionMs: int('retentionMs'),
    transactional: t.transactional === true,
  };
  if (!/^[a-z0-9.-]+$/.test(spec.name)) fail(`topics[${index}].name '${spec.name}' must be lower-case letters, digits, '.' and '-'`);
  if (spec.partitions < 1) fail(`topics[${index}].partitions must be at least 1`);
  return spec;
}

export function loadCatalogue(dir: string = SCHEMAS_DIR): CatalogueEntry[] {
  const doc = JSON.parse(readFileSync(path.join(dir, 'catalogue.json'), 'utf8')) as { topics?: unknown };
  if (!Array.isArray(doc.topics)) fail('missing topics array');
  const specs = doc.topics.map(validateSpec);
  const names = new Set<string>();
  return specs.map((spec) => {
    if (names.has(spec.name)) fail(`topic ${spec.name} declared twice`);
    names.add(spec.name);
    const schema = JSON.parse(readFileSync(path.join(dir, spec.valueSchema), 'utf8')) as AvroRecordSchema;
    if (schema.type !== 'record') fail(`${spec.valueSchema} must be an Avro record`);
    if (typeof schema.name !== 'string' || schema.name === '') fail(`${spec.valueSchema} must be a named record`);
    // The full name as Avro resolves it. The types themselves are compiled where they are used
    // (conform.ts): compiling all of them here cost every process ~25 ms at start; the unit tests
    // compile every committed schema.
    const recordName = schema.name.includes('.') || schema.namespace === undefined || schema.namespace === '' ? schema.name : `${schema.namespace}.${schema.name}`;
    return { ...spec, schema, recordName };
  });
}

let cached: CatalogueEntry[] | undefined;
/** The committed catalogue, read once per process. */
export function catalogue(): CatalogueEntry[] {
  cached ??= loadCatalogue();
  return cached;
}

export function entry(name: string): CatalogueEntry {
  return catalogue().find((e) => e.name === name) ?? fail(`no topic named ${name}`);
}

/** The name a catalogue topic has in an environment with the given prefix. */
export function topicName(name: string, prefix: string): string {
  return `${prefix}${name}`;
}

/** TopicNameStrategy subject. */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}

/** Markdown table of the catalogue, for README (kept in sync by a test). */
export function catalogueMarkdown(entries: CatalogueEntry[] = catalogue()): string {
  const retention = (ms: number): string => (ms < 0 ? 'forever' : `${Math.round(ms / 86_400_000)} d`);
  const rows = entries.map(
    (e) =>
      `| \`${e.name}\` | ${e.keyDoc} | \`${e.recordName}\` ([${path.basename(e.valueSchema)}](schemas/${e.valueSchema})) | ${e.partitions} | ${e.cleanupPolicy} | ${retention(e.retentionMs)} | ${e.doc} |`,
  );
  return [
    '| topic | key | value (Avro) | partitions | cleanup | retention | what |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
