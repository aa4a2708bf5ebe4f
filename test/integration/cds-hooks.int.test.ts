import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertEvent, profileEvent } from '../../bench/poc-events.ts';
import { createLocalIssuer, type LocalIssuer } from '../../platform/auth/jwt.ts';
import { TOPICS, topicName } from '../../platform/catalogue.ts';
import type { OutgoingRecord } from '../../platform/kafka/port.ts';
import { createSerde } from '../../platform/serde.ts';
import type { Card } from '../../services/point-of-care/cds.ts';
import { cdsOrderSign, cdsRequest } from '../../services/point-of-care/client.ts';
import { startPointOfCare, type PointOfCareHandle } from '../../services/point-of-care/runner.ts';
import { isolatedEnv, type TestEnv } from '../support/env.ts';
import { waitFor } from '../support/kafka.ts';

const PUBLIC = 'https://cds.hospital.test';
const AUD = `${PUBLIC}/cds-services/pgx-order-sign`;
const CLOPIDOGREL = { rxnorm: '32968', display: 'clopidogrel 75 MG Oral Tablet' };
const SYSTEM = 'urn:backbone:pseudonym';

/** A small FHIR server (Patient reads only) that also publishes the EHR's JWKS. */
async function ehrServer(ehr: LocalIssuer): Promise<{ server: Server; base: string; reads: string[] }> {
  const reads: string[] = [];
  const server = createServer((req, res) => {
    if (req.url === '/jwks.json') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(ehr.jwks));
    const match = /^\/fhir\/Patient\/([^/]+)$/.exec(req.url ?? '');
    if (match?.[1] !== undefined && req.headers.authorization === 'Bearer ehr-access-token') {
      reads.push(match[1]);
      const patient = { resourceType: 'Patient', id: match[1], identifier: [{ system: SYSTEM, value: `PT-${match[1]}` }] };
      return void res.writeHead(200, { 'content-type': 'application/fhir+json' }).end(JSON.stringify(patient));
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { server, base: `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`, reads };
}

describe('CDS Hooks 2.0 service', () => {
  let env: TestEnv;
  let poc: PointOfCareHandle;
  let ehr: LocalIssuer;
  let fhir: Awaited<ReturnType<typeof ehrServer>>;
  const sign = (claims: Partial<{ aud: string; ttlSeconds: number; jti: string }> = {}) => ehr.sign({ sub: 'ehr-client', aud: AUD, ttlSeconds: 120, ...claims });
  const call = async (body: unknown, token: string, service = 'pgx-order-sign') => {
    const r = await fetch(`${poc.url}/cds-services/${service}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as { cards?: Card[]; error?: string } };
  };

  beforeAll(async () => {
    ehr = await createLocalIssuer('https://ehr.hospital.test', 'ES384');
    fhir = await ehrServer(ehr);
    env = await isolatedEnv('cds', { BACKBONE_CDS_CLIENTS: `https://ehr.hospital.test=${fhir.base}/jwks.json`, BACKBONE_PUBLIC_URL: PUBLIC });
    const serde = createSerde(env.config);
    const producer = await env.kafka.producer();
    const profiles: OutgoingRecord[] = [];
    for (const [patient, dip, phen] of [['PT-C1', '*2/*2', 'Poor Metabolizer'], ['PT-C2', '*1/*1', 'Normal Metabolizer'], ['PT-C3', null, null], ['PT-77', '*2/*3', 'Poor Metabolizer']] as const) {
      profiles.push({ key: `${patient}|CYP2C19`, value: await serde.encode(TOPICS.profiles, profileEvent(patient, 'CYP2C19', { diplotype: dip, phenotype: phen })) });
    }
    await producer.send(topicName(TOPICS.profiles, env.config.topicPrefix), profiles);
    await producer.send(topicName(TOPICS.alerts, env.config.topicPrefix), [
      { key: 'PT-C1', value: await serde.encode(TOPICS.alerts, alertEvent('PT-C1')) },
      { key: 'PT-77', value: await serde.encode(TOPICS.alerts, alertEvent('PT-77')) },
    ]);
    await producer.close();
    poc = await startPointOfCare(env.config, env.log, { port: 0, instanceId: 'cds' });
  });
  afterAll(async () => {
    await poc.stop();
    fhir.server.close();
    await env.close();
  });

  it('discovers the services', async () => {
    const r = await fetch(`${poc.url}/cds-services`);
    expect(r.status).toBe(200);
    const body = (await r.json()) as { services: { id: string; hook: string }[] };
    expect(body.services.map((s) => s.id)).toEqual(['pgx-order-select', 'pgx-order-sign']);
  });

  it('returns a CPIC card for a poor metabolizer, none for a normal one or an unknown patient, and a plain card for a not-called gene', async () => {
    const pm = await call(cdsRequest('order-sign', 'PT-C1', [CLOPIDOGREL]), await sign());
    expect(pm.status).toBe(200);
    expect(pm.body.cards).toHaveLength(1);
    expect(pm.body.cards?.[0]).toMatchObject({ indicator: 'critical', summary: expect.stringMatching(/^CYP2C19 Poor Metabolizer: Avoid standard dose clopidogrel/) as string, source: { url: expect.stringMatching(/^https:\/\//) as string } });
    expect(pm.body.cards?.[0]?.suggestions?.length).toBe(2);
    expect((await call(cdsRequest('order-sign', 'PT-C2', [CLOPIDOGREL]), await sign())).body).toEqual({ cards: [] });
    expect((await call(cdsRequest('order-sign', 'PT-UNKNOWN', [CLOPIDOGREL]), await sign())).body).toEqual({ cards: [] });
    const nc = await call(cdsRequest('order-sign', 'PT-C3', [CLOPIDOGREL]), await sign());
    expect(nc.body.cards?.map((c) => [c.indicator, c.summary])).toEqual([['info', 'CYP2C19 result not determined: no genotype-guided clopidogrel advice can be given']]);
    const select = await call(cdsRequest('order-select', 'PT-C1', [CLOPIDOGREL]), await sign({ aud: `${PUBLIC}/cds-services` }), 'pgx-order-select');
    expect(select.body.cards).toHaveLength(1);
  });

  it('answers 400 with a reason for malformed requests and 401 for expired, wrong-audience or replayed tokens', async () => {
    const bad = await call({ hook: 'order-sign', hookInstance: 'x', context: { patientId: 'PT-C1' } }, await sign());
    expect(bad).toEqual({ status: 400, body: { error: 'context.draftOrders must be a FHIR Bundle' } });
    const notJson = await fetch(`${poc.url}/cds-services/pgx-order-sign`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${await sign()}` }, body: '{"hook":' });
    expect(notJson.status).toBe(400);
    expect((await call(cdsRequest('order-sign', 'PT-C1', [CLOPIDOGREL]), await sign({ ttlSeconds: -10 }))).body).toEqual({ error: 'token expired' });
    expect((await call(cdsRequest('order-sign', 'PT-C1', [CLOPIDOGREL]), await sign({ aud: 'https://other.test/cds-services' }))).status).toBe(401);
    const once = await sign();
    expect((await call(cdsRequest('order-sign', 'PT-C1', [CLOPIDOGREL]), once)).status).toBe(200);
    expect(await call(cdsRequest('order-sign', 'PT-C1', [CLOPIDOGREL]), once)).toEqual({ status: 401, body: { error: 'token replayed (jti already used)' } });
    const other = await createLocalIssuer('https://rogue.test');
    expect((await call(cdsRequest('order-sign', 'PT-C1', [CLOPIDOGREL]), await other.sign({ sub: 'x', aud: AUD }))).body).toEqual({ error: "issuer 'https://rogue.test' is not trusted" });
  });

  it('takes feedback on a card', async () => {
    const r = await fetch(`${poc.url}/cds-services/pgx-order-sign/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await sign()}` },
      body: JSON.stringify({ feedback: [{ card: 'abc', outcome: 'overridden', overrideReason: { reason: { code: 'patient-tolerated' } }, outcomeTimestamp: new Date().toISOString() }] }),
    });
    expect(r.status).toBe(200);
  });

  it('changes the card when a new alert arrives (withdrawn → no card)', async () => {
    const serde = createSerde(env.config);
    const producer = await env.kafka.producer();
    await producer.send(topicName(TOPICS.alerts, env.config.topicPrefix), [{ key: 'PT-C1', value: await serde.encode(TOPICS.alerts, alertEvent('PT-C1', 'WITHDRAWN')) }]);
    await producer.close();
    const cards = await waitFor('the card to go', async () => (await call(cdsRequest('order-sign', 'PT-C1', [CLOPIDOGREL]), await sign())).body.cards ?? [], (c) => c.length === 0);
    expect(cards).toEqual([]);
    const viaClient = await cdsOrderSign(poc.url, await sign(), 'PT-77', [CLOPIDOGREL]);
    expect(viaClient).toHaveLength(1);
  });
});

describe('CDS Hooks patient identity through the FHIR server when prefetch is missing', () => {
  let env: TestEnv;
  let poc: PointOfCareHandle;
  let ehr: LocalIssuer;
  let fhir: Awaited<ReturnType<typeof ehrServer>>;
  beforeAll(async () => {
    ehr = await createLocalIssuer('https://ehr.hospital.test');
    fhir = await ehrServer(ehr);
    env = await isolatedEnv('cdsfhir', { BACKBONE_CDS_CLIENTS: `https://ehr.hospital.test=${fhir.base}/jwks.json`, BACKBONE_PUBLIC_URL: PUBLIC, BACKBONE_CDS_PATIENT_ID_SYSTEM: SYSTEM });
    const serde = createSerde(env.config);
    const producer = await env.kafka.producer();
    await producer.send(topicName(TOPICS.profiles, env.config.topicPrefix), [{ key: 'PT-900|CYP2C19', value: await serde.encode(TOPICS.profiles, profileEvent('PT-900', 'CYP2C19', { diplotype: '*2/*2', phenotype: 'Poor Metabolizer' })) }]);
    await producer.send(topicName(TOPICS.alerts, env.config.topicPrefix), [{ key: 'PT-900', value: await serde.encode(TOPICS.alerts, alertEvent('PT-900')) }]);
    await producer.close();
    poc = await startPointOfCare(env.config, env.log, { port: 0, instanceId: 'cdsfhir' });
  });
  afterAll(async () => {
    await poc.stop();
    fhir.server.close();
    await env.close();
  });

  it('maps the EHR patient to the pseudonym from prefetch, or reads the Patient when prefetch is missing', async () => {
    const post = async (body: object) => {
      const r = await fetch(`${poc.url}/cds-services/pgx-order-sign`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${await ehr.sign({ sub: 'ehr', aud: AUD })}` }, body: JSON.stringify(body) });
      return (await r.json()) as { cards: Card[] };
    };
    const prefetched = await post(cdsRequest('order-sign', 'ehr-1', [CLOPIDOGREL], { prefetchPatient: { resourceType: 'Patient', id: 'ehr-1', identifier: [{ system: SYSTEM, value: 'PT-900' }] } }));
    expect(prefetched.cards).toHaveLength(1);
    expect(fhir.reads).toEqual([]);
    const fetched = await post(cdsRequest('order-sign', '900', [CLOPIDOGREL], { fhirServer: `${fhir.base}/fhir` }));
    expect(fetched.cards).toHaveLength(1);
    expect(fhir.reads).toEqual(['900']);
    const noIdentifier = await post(cdsRequest('order-sign', 'ehr-2', [CLOPIDOGREL], { prefetchPatient: { resourceType: 'Patient', id: 'ehr-2' } }));
    expect(noIdentifier.cards).toEqual([]);
  });
});
