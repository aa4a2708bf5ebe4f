/**
 * Confluent wire-format serde (magic byte 0, 4-byte schema id, Avro body) over the registry. The
 * writer schema of each topic is the committed one in schemas/; decoding resolves whatever version
 * the producer wrote into that reader schema, so consumers see one shape.
 */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type avro from 'avsc';
import type { Config } from './config.ts';
import { entry, topicName, valueSubject, type CatalogueEntry } from './catalogue.ts';
import { invalidPaths, valueType } from './conform.ts';
import { DependencyError, InvalidInputError, describeError } from './errors.ts';

export interface Serde {
  /** Topic is the catalogue name (without the environment prefix). */
  encode(topic: string, value: unknown): Promise<Buffer>;
  decode<T>(topic: string, bytes: Buffer | null): Promise<T>;
}

interface TopicCodec {
  entry: CatalogueEntry;
  type: avro.Type;
  id?: Promise<number>;
}

export function createSerde(config: Config): Serde {
  const registry = new SchemaRegistry({
    host: config.registryUrl,
    ...(config.registryUsername === '' ? {} : { auth: { username: config.registryUsername, password: config.registryPassword } }),
  });
  const codecs = new Map<string, TopicCodec>();

  function codec(topic: string): TopicCodec {
    let c = codecs.get(topic);
    if (c === undefined) {
      const e = entry(topic);
      c = { entry: e, type: valueType(topic) };
      codecs.set(topic, c);
    }
    return c;
  }

  function schemaId(c: TopicCodec): Promise<number> {
    const subject = valueSubject(topicName(c.entry.name, config.topicPrefix));
    c.id ??= registry.getRegistryIdBySchema(subject, { type: SchemaType.AVRO, schema: JSON.stringify(c.entry.schema) }).catch((error: unknown) => {
      c.id = undefined; // do not cache a failure
      if (isNotFound(error)) {
        throw new DependencyError('schema registry', `schema of ${subject} is not registered; run 'backbone setup' first`, { retriable: false, cause: error });
      }
      throw new DependencyError('schema registry', `looking up ${subject}: ${describeError(error)}`, { cause: error });
    });
    return c.id;
  }

  return {
    async encode(topic, value) {
      const c = codec(topic);
      const problems = invalidPaths(c.type, value);
      if (problems.length > 0) {
        throw new InvalidInputError(`value is not a valid ${c.entry.recordName}: invalid ${problems.slice(0, 5).join(', ')}`);
      }
      const id = await schemaId(c);
      const header = Buffer.alloc(5);
      header.writeUInt8(0, 0);
      header.writeUInt32BE(id, 1);
      return Buffer.concat([header, c.type.toBuffer(value)]);
    },

    async decode<T>(topic: string, bytes: Buffer | null): Promise<T> {
      const c = codec(topic);
      if (bytes === null || bytes.length === 0) throw new InvalidInputError('empty value (tombstone) where an event was expected');
      if (bytes.length < 6) throw new InvalidInputError(`value of ${bytes.length} bytes is too short for the Confluent wire format`);
      if (bytes[0] !== 0) throw new InvalidInputError(`value does not start with the Confluent magic byte 0 (found ${bytes[0]})`);
      try {
        return (await registry.decode(bytes, { [SchemaType.AVRO]: { readerSchema: c.entry.schema as never } })) as T;
      } catch (error) {
        if (isNotFound(error)) {
          throw new InvalidInputError(`value names schema id ${bytes.readUInt32BE(1)}, which the registry does not know`, { cause: error });
        }
        if (isTransport(error)) throw new DependencyError('schema registry', describeError(error), { cause: error });
        throw new InvalidInputError(`value cannot be decoded as ${c.entry.recordName}: ${describeError(error)}`, { cause: error });
      }
    },
  };
}

function isNotFound(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { status?: unknown; message?: unknown };
  return e.status === 404 || (typeof e.message === 'string' && /not found|404/i.test(e.message));
}

function isTransport(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { status?: unknown; code?: unknown; message?: unknown };
  if (typeof e.status === 'number' && e.status >= 500) return true;
  if (typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) return true;
  return typeof e.message === 'string' && /ECONNREFUSED|ECONNRESET|socket hang up|timeout/i.test(e.message);
}
