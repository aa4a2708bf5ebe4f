import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPICS, entry, topicName, valueSubject } from '../../platform/catalogue.ts';
import type { GenotypeCallSet } from '../../platform/events.ts';
import { DependencyError } from '../../platform/errors.ts';
import { createRegistryClient, IncompatibleSchemaError, registerBackward } from '../../platform/registry.ts';
import { createSerde } from '../../platform/serde.ts';
import { genotypeEvent } from '../support/fixtures.ts';
import { isolatedEnv, type TestEnv } from '../support/env.ts';
import { collect } from '../support/kafka.ts';

describe('schema registry and Confluent wire format', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await isolatedEnv('registry');
  });
  afterAll(async () => env.close());

  it('round-trips an event through the registry and Kafka in the Confluent wire format', async () => {
    const serde = createSerde(env.config);
    const event = genotypeEvent(7, { calls: 4 });
    const bytes = await serde.encode(TOPICS.genotypeCalls, event);

    // Magic byte 0, then the registry's id for exactly our committed schema.
    const registry = createRegistryClient(env.config);
    const subject = valueSubject(topicName(TOPICS.genotypeCalls, env.config.topicPrefix));
    const id = await registerBackward(registry, subject, entry(TOPICS.genotypeCalls).schema); // same schema: same id
    expect(bytes[0]).toBe(0);
    expect(bytes.readUInt32BE(1)).toBe(id);

    const topic = topicName(TOPICS.genotypeCalls, env.config.topicPrefix);
    const producer = await env.kafka.producer();
    await producer.send(topic, [{ key: event.patientId, value: bytes }]);
    await producer.close();
    const [record] = await collect(env.kafka, topic, 1);
    expect(record?.key?.toString()).toBe(event.patientId);
    const decoded = await serde.decode<GenotypeCallSet>(TOPICS.genotypeCalls, record?.value ?? null);
    expect(decoded).toEqual(event);
  });

  it('interoperates with the standard Confluent client: each reads what the other wrote', async () => {
    // Subscribers use off-the-shelf clients; @kafkajs/confluent-schema-registry is one of them.
    const standard = new SchemaRegistry({ host: env.config.registryUrl });
    const serde = createSerde(env.config);
    const subject = valueSubject(topicName(TOPICS.genotypeCalls, env.config.topicPrefix));
    const event = genotypeEvent(11, { calls: 3 });

    const ours = await serde.encode(TOPICS.genotypeCalls, event);
    expect(await standard.decode(ours)).toEqual(event);
    // The same schema id both ways: our lookup and the standard client's agree.
    const theirId = await standard.getRegistryIdBySchema(subject, { type: SchemaType.AVRO, schema: JSON.stringify(entry(TOPICS.genotypeCalls).schema) });
    expect(ours.readUInt32BE(1)).toBe(theirId);
    const theirs = await standard.encode(theirId, event);
    expect(await serde.decode<GenotypeCallSet>(TOPICS.genotypeCalls, theirs)).toEqual(event);
  });

  it('tells a registry URL that is not the Confluent-compatible API base from a missing schema, and does not retry it', async () => {
    const base = new URL(env.config.registryUrl);
    const wrong = createRegistryClient({ ...env.config, registryUrl: `${base.protocol}//${base.host}/no-such-api` });
    const error = await wrong.idOf('any-value', entry(TOPICS.genotypeCalls).schema).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyError);
    expect((error as DependencyError).message).toMatch(/answered 404 without a registry error code: is the registry URL the Confluent-compatible API base\?/);
    expect((error as DependencyError).retriable).toBe(false);
    // The right base URL and a subject that does not exist: simply not registered.
    expect(await createRegistryClient(env.config).idOf(`${env.config.topicPrefix}never-registered-value`, entry(TOPICS.genotypeCalls).schema)).toBeUndefined();
  });

  it('says which schema is missing when a topic was never set up', async () => {
    const serde = createSerde({ ...env.config, topicPrefix: `${env.config.topicPrefix}never-set-up-` });
    await expect(serde.wireHeader(TOPICS.genotypeCalls)).rejects.toThrow(/schema of .*never-set-up-.* is not registered; run 'backbone setup' first/);
    await expect(serde.encode(TOPICS.genotypeCalls, genotypeEvent(1, { calls: 1 }))).rejects.toThrow(/not registered/);
  });

  it('decodes data written with an older schema version into the current shape', async () => {
    // A v0 writer without the optional `gene` and `variantId` fields, registered first on a fresh subject.
    const current = entry(TOPICS.genotypeCalls).schema as { fields: { name: string; type: unknown }[] };
    const callsField = current.fields.find((f) => f.name === 'calls');
    const callType = (callsField?.type as { items: { fields: { name: string }[] } }).items;
    const older: typeof current = structuredClone(current);
    const olderCalls = (older.fields.find((f) => f.name === 'calls')?.type as { items: { fields: { name: string }[] } }).items;
    olderCalls.fields = callType.fields.filter((f) => f.name !== 'gene' && f.name !== 'variantId');

    const registry = createRegistryClient(env.config);
    const subject = `${env.config.topicPrefix}evolution-value`;
    const olderId = await registerBackward(registry, subject, older);
    const newerId = await registerBackward(registry, subject, current); // adding defaulted fields is BACKWARD
    expect(newerId).not.toBe(olderId);

    const avro = (await import('avsc')).default;
    const event = genotypeEvent(1, { calls: 1 });
    const { gene: _gene, variantId: _variantId, ...oldCall } = event.calls[0] ?? ({} as never);
    const body = avro.Type.forSchema(older as never).toBuffer({ ...event, calls: [oldCall] });
    const header = Buffer.alloc(5);
    header.writeUInt32BE(olderId, 1);
    const decoded = await createSerde(env.config).decode<GenotypeCallSet>(TOPICS.genotypeCalls, Buffer.concat([header, body]));
    expect(decoded.calls[0]?.gene).toBeNull();
    expect(decoded.calls[0]?.variantId).toBeNull();
    expect(decoded.calls[0]?.pos).toBe(event.calls[0]?.pos);
  });

  it('decodes only the named fields, from current and older writer schemas alike', async () => {
    const serde = createSerde(env.config);
    const event = genotypeEvent(3, { calls: 4 });
    const bytes = await serde.encode(TOPICS.genotypeCalls, event);
    const picked = await serde.decodeFields<Record<string, unknown>>(TOPICS.genotypeCalls, bytes, { patientId: true, assembly: true, calls: { pos: true, gt: true } });
    expect(picked).toEqual({ patientId: event.patientId, assembly: event.assembly, calls: event.calls.map((c) => ({ pos: c.pos, gt: c.gt })) });

    // Written with an older version (no `gene`, `variantId` in the calls), read back through the
    // projection: a selected field the writer did not have takes its default, as in a full decode.
    const current = entry(TOPICS.genotypeCalls).schema as { fields: { name: string; type: unknown }[] };
    const older: typeof current = structuredClone(current);
    const olderCalls = (older.fields.find((f) => f.name === 'calls')?.type as { items: { fields: { name: string }[] } }).items;
    olderCalls.fields = olderCalls.fields.filter((f) => f.name !== 'gene' && f.name !== 'variantId');
    const olderId = await registerBackward(createRegistryClient(env.config), `${env.config.topicPrefix}projection-value`, older);
    const avro = (await import('avsc')).default;
    const { gene: _gene, variantId: _variantId, ...oldCall } = event.calls[0] ?? ({} as never);
    const header = Buffer.alloc(5);
    header.writeUInt32BE(olderId, 1);
    const old = Buffer.concat([header, avro.Type.forSchema(older as never).toBuffer({ ...event, calls: [oldCall] })]);
    expect(await serde.decodeFields<Record<string, unknown>>(TOPICS.genotypeCalls, old, { eventId: true, calls: { ref: true, gene: true } })).toEqual({
      eventId: event.eventId,
      calls: [{ ref: oldCall.ref, gene: null }],
    });
    await expect(serde.decodeFields(TOPICS.genotypeCalls, bytes, { noSuchField: true })).rejects.toThrow(/no field noSuchField/);
    await expect(serde.decodeFields(TOPICS.genotypeCalls, bytes, { eventId: { x: true } })).rejects.toThrow(/not a record/);
    // Truncated values are refused as a full decode refuses them.
    await expect(serde.decodeFields(TOPICS.genotypeCalls, bytes.subarray(0, bytes.length - 3), { eventId: true })).rejects.toThrow(/cannot be decoded/);
  });

  it('refuses an incompatible schema change with BACKWARD compatibility in force', async () => {
    const registry = createRegistryClient(env.config);
    const subject = valueSubject(topicName(TOPICS.genotypeCalls, env.config.topicPrefix));
    expect(await registry.compatibility(subject)).toBe('BACKWARD');
    const schema = structuredClone(entry(TOPICS.genotypeCalls).schema) as { fields: object[] };
    // A new required field without a default cannot read data written before it existed.
    schema.fields.push({ name: 'consentVersion', type: 'string', doc: 'new required field' });
    expect(await registry.isCompatible(subject, schema)).toBe(false);
    await expect(registry.register(subject, schema)).rejects.toBeInstanceOf(IncompatibleSchemaError);
  });
});
