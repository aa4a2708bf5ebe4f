import { describe, expect, it } from 'vitest';
import { AuditTrail, verifyChain } from '../../platform/auth/audit.ts';
import { bearer, createLocalIssuer, createTokenVerifier, ReplayGuard } from '../../platform/auth/jwt.ts';
import { authorize } from '../../platform/auth/policy.ts';
import type { AuditEvent } from '../../platform/events.ts';
import { createLogger } from '../../platform/log.ts';

const log = createLogger({ level: 'silent', name: 'test' });
const AUD = 'http://127.0.0.1:8088/cds-services';

describe('JWT verification', () => {
  it('accepts a token of a trusted issuer for the audience, with its roles', async () => {
    const issuer = await createLocalIssuer('https://idp.example.org');
    const verifier = createTokenVerifier({ issuers: [issuer.trust()], audience: ['backbone'] });
    const result = await verifier.verify(await issuer.sign({ sub: 'dr-who', aud: 'backbone', roles: ['clinician'] }));
    expect(result).toMatchObject({ ok: true, principal: { subject: 'dr-who', issuer: 'https://idp.example.org', roles: ['clinician'] } });
  });

  it('refuses expired, wrong-audience, untrusted, tampered and missing tokens with a reason', async () => {
    const issuer = await createLocalIssuer('https://idp.example.org');
    const other = await createLocalIssuer('https://evil.example.org');
    const verifier = createTokenVerifier({ issuers: [issuer.trust()], audience: [AUD] });
    const reason = async (token: string | undefined): Promise<string> => {
      const r = await verifier.verify(token);
      return r.ok ? 'accepted' : r.reason;
    };
    expect(await reason(await issuer.sign({ sub: 'ehr', aud: AUD, ttlSeconds: -60 }))).toBe('token expired');
    expect(await reason(await issuer.sign({ sub: 'ehr', aud: 'http://elsewhere/cds-services' }))).toMatch(/token claim refused: unexpected "aud"/);
    expect(await reason(await other.sign({ sub: 'ehr', aud: AUD }))).toBe("issuer 'https://evil.example.org' is not trusted");
    const good = await issuer.sign({ sub: 'ehr', aud: AUD });
    const [h, p, s] = good.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p ?? '', 'base64url').toString()), sub: 'admin' })).toString('base64url');
    expect(await reason(`${h}.${forged}.${s}`)).toBe('token signature does not verify');
    expect(await reason(undefined)).toBe('no bearer token');
    expect(await reason('abc')).toBe('token is not a JWS compact serialization');
  });

  it('refuses a replayed jti and a token without jti when replay is guarded (CDS Hooks)', async () => {
    const issuer = await createLocalIssuer('https://ehr.example.org');
    const verifier = createTokenVerifier({ issuers: [issuer.trust()], audience: [AUD], replay: new ReplayGuard() });
    const token = await issuer.sign({ sub: 'ehr', aud: AUD });
    expect((await verifier.verify(token)).ok).toBe(true);
    expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'token replayed (jti already used)' });
    expect((await verifier.verify(await issuer.sign({ sub: 'ehr', aud: AUD }))).ok).toBe(true);
  });

  it('forgets a jti once its token has expired', () => {
    let now = 1_000_000;
    const guard = new ReplayGuard(() => now);
    expect(guard.claim('i', 'a', now / 1000 + 5)).toBe(true);
    now += 20_000;
    expect(guard.claim('i', 'b', now / 1000 + 5)).toBe(true);
    expect(guard.size).toBe(1);
  });

  it('reads the bearer token of an Authorization header', () => {
    expect(bearer('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearer('Basic xyz')).toBeUndefined();
    expect(bearer(undefined)).toBeUndefined();
  });
});

describe('roles', () => {
  const who = (roles: ('clinician' | 'analyst' | 'admin' | 'publisher')[]) => ({ subject: 's', issuer: 'i', roles, exp: 0, jti: null });
  it('gives patient data to clinicians and admins only, webhooks to admins only', () => {
    expect(authorize(who(['clinician']), 'read-profile')).toEqual({ allowed: true });
    expect(authorize(who(['analyst']), 'read-profile')).toEqual({ allowed: false, reason: 'read-profile needs one of clinician, admin; token has roles analyst' });
    expect(authorize(who([]), 'read-health')).toMatchObject({ allowed: false, reason: expect.stringMatching(/token has no role/) as string });
    expect(authorize(who(['analyst']), 'read-health')).toEqual({ allowed: true });
    expect(authorize(who(['clinician']), 'manage-webhooks').allowed).toBe(false);
  });
});

describe('audit trail', () => {
  const entry = (n: number) => ({ actor: `u${n}`, roles: ['clinician'], action: 'read-profile', resource: '/api/patients/{id}/profile', patientId: `P${n}`, outcome: 'ALLOWED' as const, reason: null, purpose: null, requestId: `r${n}` });

  it('chains entries so that removal or alteration is detected', async () => {
    const written: AuditEvent[] = [];
    const trail = new AuditTrail({ service: 'poc/1', write: async (e) => void written.push(...e), log, flushMs: 1_000 });
    for (let n = 0; n < 5; n++) trail.record(entry(n));
    await trail.close();
    expect(written.map((e) => e.auditId)).toEqual(['poc/1:1', 'poc/1:2', 'poc/1:3', 'poc/1:4', 'poc/1:5']);
    expect(written[0]?.prevHash).toBe('');
    expect(verifyChain(written)).toEqual({ ok: true });
    expect(verifyChain([...written.slice(0, 2), ...written.slice(3)])).toMatchObject({ ok: false, index: 2, reason: expect.stringMatching(/entry removed/) as string });
    const altered = written.map((e, i) => (i === 1 ? { ...e, outcome: 'DENIED' as const } : e));
    expect(verifyChain(altered)).toMatchObject({ ok: false, index: 1, reason: expect.stringMatching(/altered/) as string });
  });

  it('writes entries recorded after an idle flush', async () => {
    const written: AuditEvent[] = [];
    const trail = new AuditTrail({ service: 'poc/3', write: async (e) => void written.push(...e), log, flushMs: 1_000 });
    await trail.flush();
    trail.record(entry(1));
    await trail.flush();
    expect(written).toHaveLength(1);
    await trail.close();
  });

  it('keeps entries in order while Kafka is down and stops being writable when the backlog is full', async () => {
    let up = false;
    const written: AuditEvent[] = [];
    const trail = new AuditTrail({ service: 'poc/2', write: async (e) => {
      if (!up) throw new Error('broker down');
      written.push(...e);
    }, log, flushMs: 1_000, maxBacklog: 3 });
    trail.record(entry(1));
    trail.record(entry(2));
    await trail.flush();
    expect(trail.writable).toBe(true);
    trail.record(entry(3));
    expect(trail.writable).toBe(false);
    up = true;
    await trail.close();
    expect(trail.writable).toBe(true);
    expect(verifyChain(written)).toEqual({ ok: true });
    expect(written).toHaveLength(3);
  });
});
