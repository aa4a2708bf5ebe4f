/**
 * Confluent wire-format serde (magic byte 0, 4-byte schema id, Avro body) over the registry. The
 * writer schema of each topic is the committed one in schemas/; decoding resolves whatever version
 * the producer wrote into that reader schema, so consumers see one shape.
 */
import avro from 'avsc';
import type { Config } from './config.ts';
import { entry, topicName, valueSubject, type CatalogueEntry } from './catalogue.ts';
import { invalidPaths, valueType } from './conform.ts';
import { createRegistryClient } from './registry.ts';
import { BackboneError, DependencyError, InvalidInputError, describeError } from './errors.ts';

export interface Serde {
  /** Topic is the catalogue name (without the environment prefix). */
  encode(topic: string, value: unknown): Promise<Buffer>;
  decode<T>(topic: string, bytes: Buffer | null): Promise<T>;
  /**
   * The 5-byte Confluent header (magic byte, schema id) of the topic's values, for writers that
   * encode bodies themselves; calling it early also saves the first encode its registry round trip.
   */
  wireHeader(topic: string): Promise<Buffer>;
  /**
   * Only the selected fields of a value: the others are skipped while reading, not built, which is
   * much cheaper when a consumer needs a part of a large value. Pass the same selection object each
   * time (a constant): what is derived from it is cached by identity.
   */
  decodeFields<T>(topic: string, bytes: Buffer | null, fields: FieldSelection): Promise<T>;
}

/**
 * Fields to read of a record: `true` for the whole field, or a selection of the fields of the
 * record it holds (directly or as the items of an array).
 */
export interface FieldSelection {
  readonly [field: string]: true | FieldSelection;
}

/** A type to read values as: the topic's own (key '') or a projection of some of its fields. */
interface Projection {
  key: string;
  type: avro.Type;
}

interface TopicCodec {
  entry: CatalogueEntry;
  /** Built on first use: a schema id lookup alone does not need the Avro type. */
  readonly type: avro.Type;
  id?: Promise<number>;
}

export function createSerde(config: Config): Serde {
  const codecs = new Map<string, TopicCodec>();
  const readers = new Map<string, Promise<(body: Buffer) => unknown>>();
  const projections = new Map<string, WeakMap<FieldSelection, Projection>>();
  const registryClient = createRegistryClient(config);
  const scratch = Buffer.allocUnsafe(64 * 1024);

  function codec(topic: string): TopicCodec {
    let c = codecs.get(topic);
    if (c === undefined) {
      const e = entry(topic);
      let type: avro.Type | undefined;
      c = {
        entry: e,
        get type() {
          return (type ??= valueType(topic));
        },
      };
      codecs.set(topic, c);
    }
    return c;
  }

  function schemaId(c: TopicCodec): Promise<number> {
    const subject = valueSubject(topicName(c.entry.name, config.topicPrefix));
    c.id ??= registryClient.idOf(subject, c.entry.schema).then(
      (id) => {
        if (id === undefined) {
          throw new DependencyError('schema registry', `schema of ${subject} is not registered; run 'backbone setup' first`, { retriable: false });
        }
        return id;
      },
      (error: unknown) => {
        if (error instanceof BackboneError) throw error; // the registry client's own, with its retriable flag
        throw new DependencyError('schema registry', `looking up ${subject}: ${describeError(error)}`, { cause: error });
      },
    );
    // A failure is not cached: the next record asks again.
    c.id.catch(() => (c.id = undefined));
    return c.id;
  }

  return {
    async encode(topic, value) {
      const c = codec(topic);
      // The plain check is fast; the path-collecting one only runs to explain a failure.
      if (!c.type.isValid(value)) {
        const problems = invalidPaths(c.type, value);
        throw new InvalidInputError(`value is not a valid ${c.entry.recordName}: invalid ${problems.slice(0, 5).join(', ') || 'value'}`);
      }
      const id = await schemaId(c);
      // Encoded behind the 5-byte header in a reused buffer and copied out once; a value that does
      // not fit (avsc returns a negative end) gets a buffer of its own.
      scratch.writeUInt8(0, 0);
      scratch.writeUInt32BE(id, 1);
      const end = c.type.encode(value, scratch, 5);
      if (end >= 0) return Buffer.from(scratch.subarray(0, end));
      const header = Buffer.alloc(5);
      scratch.copy(header, 0, 0, 5);
      return Buffer.concat([header, c.type.toBuffer(value)]);
    },

    async wireHeader(topic) {
      const header = Buffer.alloc(5);
      header.writeUInt32BE(await schemaId(codec(topic)), 1);
      return header;
    },

    async decode<T>(topic: string, bytes: Buffer | null): Promise<T> {
      return read<T>(codec(topic), bytes);
    },

    async decodeFields<T>(topic: string, bytes: Buffer | null, fields: FieldSelection): Promise<T> {
      return read<T>(codec(topic), bytes, projection(codec(topic), fields));
    },
  };

  async function read<T>(c: TopicCodec, bytes: Buffer | null, as: Projection = { key: '', type: c.type }): Promise<T> {
    if (bytes === null || bytes.length === 0) throw new InvalidInputError('empty value (tombstone) where an event was expected');
    if (bytes.length < 6) throw new InvalidInputError(`value of ${bytes.length} bytes is too short for the Confluent wire format`);
    if (bytes[0] !== 0) throw new InvalidInputError(`value does not start with the Confluent magic byte 0 (found ${bytes[0]})`);
    const id = bytes.readUInt32BE(1);
    const decode = await reader(c, id, as);
    try {
      return decode(bytes.subarray(5)) as T;
    } catch (error) {
      throw new InvalidInputError(`value cannot be decoded as ${c.entry.recordName} (schema id ${id}): ${describeError(error)}`, { cause: error });
    }
  }

  /** The topic's record type cut down to the selected fields (same names, so writer data resolves into it). */
  function projection(c: TopicCodec, fields: FieldSelection): Projection {
    let byTopic = projections.get(c.entry.name);
    if (byTopic === undefined) {
      byTopic = new WeakMap();
      projections.set(c.entry.name, byTopic);
    }
    let found = byTopic.get(fields);
    if (found === undefined) {
      found = { key: `\u0000${JSON.stringify(fields)}`, type: project(c.type, fields, c.entry.recordName) };
      byTopic.set(fields, found);
    }
    return found;
  }

  /**
   * How to read bytes written with schema `id` as the topic's current schema (or a projection of it): the writer schema is
   * fetched once per id and its resolver cached, so the hot path is a plain Avro decode.
   */
  function reader(c: TopicCodec, id: number, projection: Projection): Promise<(body: Buffer) => unknown> {
    const key = `${c.entry.name}\u0000${id}${projection.key}`;
    const as = projection.type;
    let found = readers.get(key);
    if (found === undefined) {
      found = (async () => {
        const writer = await registryClient.schemaById(id);
        if (writer === undefined) throw new InvalidInputError(`value names schema id ${id}, which the registry does not know`);
        let writerType: avro.Type;
        try {
          writerType = avro.Type.forSchema(writer as avro.Schema);
        } catch (error) {
          throw new InvalidInputError(`schema id ${id} is not a valid Avro schema: ${describeError(error)}`);
        }
        if (writerType.equals(as)) return (body: Buffer): unknown => as.fromBuffer(body) as unknown;
        let resolver: avro.Resolver;
        try {
          resolver = as.createResolver(writerType);
        } catch (error) {
          throw new InvalidInputError(`data written with schema id ${id} cannot be read as ${c.entry.recordName}: ${describeError(error)}`);
        }
        return (body: Buffer): unknown => as.fromBuffer(body, resolver) as unknown;
      })();
      readers.set(key, found);
      // Only successes are cached: an id unknown now (registry failing over, restored from a
      // backup) may be known on the next record.
      found.catch(() => readers.delete(key));
    }
    return found;
  }
}

/** `type` (a record, or an array of records) with only the selected fields; avsc takes Type instances in place of schemas. */
function project(type: avro.Type, fields: FieldSelection, path: string): avro.Type {
  if (type.typeName === 'array') {
    const items = (type as avro.types.ArrayType).itemsType;
    return avro.Type.forSchema({ type: 'array', items: project(items, fields, path) } as unknown as avro.Schema);
  }
  if (type.typeName !== 'record') throw new Error(`${path} is not a record or an array of records: no fields to select`);
  const record = type as avro.types.RecordType;
  // Defaults are kept, so data from an older writer resolves as it does into the full type.
  const schemas = (record.schema({ exportAttrs: true }) as { fields: { name: string; default?: unknown }[] }).fields;
  const picked = Object.entries(fields).map(([name, selection]) => {
    const field = record.fields.find((f) => f.name === name);
    const schema = schemas.find((f) => f.name === name);
    if (field === undefined || schema === undefined) throw new Error(`${path} has no field ${name}`);
    const projected = { name, type: selection === true ? field.type : project(field.type, selection, `${path}.${name}`) };
    return 'default' in schema ? { ...projected, default: schema.default } : projected;
  });
  return avro.Type.forSchema({ type: 'record', name: record.name, fields: picked } as unknown as avro.Schema);
}
