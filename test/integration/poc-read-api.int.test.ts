import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertEvent, profileEvent } from '../../bench/poc-events.ts';
import { verifyChain } from '../../platform/auth/audit.ts';
import { createLocalIssuer, type LocalIssuer } from '../../platform/auth/jwt.ts';
import { TOPICS, topicName } from '../../platform/catalogue.ts';
import type { AuditEvent } from '../../platform/events.ts';
import { createSerde } from '../../platform/serde.ts';
import { startPointOfCare, type PointOfCareHandle } from '../../services/point-of-care/runner.ts';
import { isolatedEnv, type TestEnv } from '../support/env.ts';
import { collect, waitFor } from '../support/kafka.ts';

/** A real HTTP server publishing the issuer's JWKS, as an identity provider would. */
export async function jwksServer(issuer: LocalIssuer): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(issuer.jwks)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { server, url: `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/jwks.json` };
}

describe('read API: profile and alerts from Kafka, authorised and audited', () => {
  let env: TestEnv;
  let poc: PointOfCareHandle;
  let idp: LocalIssuer;
  let jwks: Server;
  const get = (path: string, token?: string) =>
    fetch(`${poc.url}${path}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}`, 'x-purpose-of-use': 'TREAT' } });

  beforeAll(async () => {
    idp = await createLocalIssuer('https://idp.test', 'ES256');
    const served = await jwksServer(idp);
    jwks = served.server;
    env = await isolatedEnv('poc', { BACKBONE_AUTH_ISSUERS: `https://idp.test=${served.url}`, BACKBONE_AUTH_AUDIENCE: 'backbone-test' });
    // Events published before the service starts are loaded before it answers.
    const serde = createSerde(env.config);
    const producer = await env.kafka.producer();
    const p = profileEvent('PT-R1', 'CYP2C19', { diplotype: '*2/*2', phenotype: 'Poor Metabolizer' }, { lab: 'Lab A', sourceId: 'reports/r1.pdf' });
    await producer.send(topicName(TOPICS.profiles, env.config.topicPrefix), [{ key: 'PT-R1|CYP2C19', value: await serde.encode(TOPICS.profiles, p) }]);
    await producer.send(topicName(TOPICS.alerts, env.config.topicPrefix), [{ key: 'PT-R1', value: await serde.encode(TOPICS.alerts, alertEvent('PT-R1', 'ACTIVE', { profileIds: [p.profileId] })) }]);
    await producer.close();
    poc = await startPointOfCare(env.config, env.log, { port: 0, instanceId: 'r1' });
  });
  afterAll(async () => {
    await poc.stop();
    jwks.close();
    await env.close();
  });

  it('serves a clinician the profile and active alerts with lineage; refuses others; audits every read', async () => {
    const clinician = await idp.sign({ sub: 'dr-a', aud: 'backbone-test', roles: ['clinician'] });
    const analyst = await idp.sign({ sub: 'an-b', aud: 'backbone-test', roles: ['analyst'] });
    const expired = await idp.sign({ sub: 'dr-a', aud: 'backbone-test', roles: ['clinician'], ttlSeconds: -30 });
    const wrongAud = await idp.sign({ sub: 'dr-a', aud: 'elsewhere', roles: ['clinician'] });

    const ok = await get('/api/patients/PT-R1/profile', clinician);
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { genes: { gene: string; diplotypes: string[]; phenotype: string; lineage: { labs: string[]; sourceIds: string[]; kbVersion: string; kafka: { offset: string } } }[]; activeAlerts: { drug: string; classification: string }[] };
    expect(body.genes).toHaveLength(1);
    expect(body.genes[0]).toMatchObject({ gene: 'CYP2C19', diplotypes: ['*2/*2'], phenotype: 'Poor Metabolizer', lineage: { labs: ['Lab A'], sourceIds: ['reports/r1.pdf'], kbVersion: 'cpic-2025.1', kafka: { offset: '0' } } });
    expect(body.activeAlerts).toMatchObject([{ drug: 'clopidogrel', classification: 'Strong' }]);

    expect((await get('/api/patients/PT-R1/alerts', clinician)).status).toBe(200);
    expect((await get('/api/patients/PT-NOBODY/profile', clinician)).status).toBe(404);
    const denied = await get('/api/patients/PT-R1/profile', analyst);
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { error: string }).error).toMatch(/read-profile needs one of clinician, admin/);
    expect((await get('/api/patients/PT-R1/profile')).status).toBe(401);
    const exp = await get('/api/patients/PT-R1/profile', expired);
    expect(exp.status).toBe(401);
    expect(((await exp.json()) as { error: string }).error).toBe('token expired');
    expect((await get('/api/patients/PT-R1/profile', wrongAud)).status).toBe(401);
    expect((await get('/api/health', analyst)).status).toBe(200);

    // Seven reads of patient data: three allowed, four denied, in one hash chain on the audit topic.
    await waitFor('audit entries written', async () => poc.audit.written, (n) => n >= 7);
    const records = await collect(env.kafka, topicName(TOPICS.audit, env.config.topicPrefix), 7);
    const serde = createSerde(env.config);
    const events = await Promise.all(records.map((r) => serde.decode<AuditEvent>(TOPICS.audit, r.value)));
    expect(records.every((r) => r.key?.toString() === 'point-of-care/r1')).toBe(true);
    expect(verifyChain(events)).toEqual({ ok: true });
    expect(events.map((e) => [e.action, e.outcome, e.patientId])).toEqual([
      ['read-profile', 'ALLOWED', 'PT-R1'],
      ['read-alerts', 'ALLOWED', 'PT-R1'],
      ['read-profile', 'ALLOWED', 'PT-NOBODY'],
      ['read-profile', 'DENIED', 'PT-R1'],
      ['read-profile', 'DENIED', 'PT-R1'],
      ['read-profile', 'DENIED', 'PT-R1'],
      ['read-profile', 'DENIED', 'PT-R1'],
    ]);
    expect(events[0]).toMatchObject({ actor: 'dr-a@https://idp.test', roles: ['clinician'], purpose: 'TREAT', reason: null });
    expect(events[3]).toMatchObject({ actor: 'an-b@https://idp.test', reason: expect.stringMatching(/needs one of clinician, admin/) as string });
    expect(events[4]).toMatchObject({ actor: 'anonymous', reason: 'no bearer token' });
    expect(events[5]?.reason).toBe('token expired');
    expect(events[6]?.reason).toMatch(/aud/);
  });

  it('follows new events: a profile change and a withdrawn alert show on the next read', async () => {
    const clinician = await idp.sign({ sub: 'dr-a', aud: 'backbone-test', roles: ['clinician'] });
    const serde = createSerde(env.config);
    const producer = await env.kafka.producer();
    const im = profileEvent('PT-R1', 'CYP2C19', { diplotype: '*1/*2', phenotype: 'Intermediate Metabolizer' });
    await producer.send(topicName(TOPICS.profiles, env.config.topicPrefix), [{ key: 'PT-R1|CYP2C19', value: await serde.encode(TOPICS.profiles, im) }]);
    await producer.send(topicName(TOPICS.alerts, env.config.topicPrefix), [{ key: 'PT-R1', value: await serde.encode(TOPICS.alerts, alertEvent('PT-R1', 'WITHDRAWN')) }]);
    await producer.close();
    const body = await waitFor(
      'the change to reach the read API',
      async () => (await (await get('/api/patients/PT-R1/profile', clinician)).json()) as { genes: { phenotype: string }[]; activeAlerts: unknown[] },
      (b) => b.genes[0]?.phenotype === 'Intermediate Metabolizer' && b.activeAlerts.length === 0,
    );
    expect(body.activeAlerts).toEqual([]);
  });
});
