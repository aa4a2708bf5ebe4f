import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertEvent } from '../../bench/poc-events.ts';
import { createLocalIssuer, type LocalIssuer } from '../../platform/auth/jwt.ts';
import { TOPICS, topicName } from '../../platform/catalogue.ts';
import { DLQ_HEADERS } from '../../platform/dead-letter.ts';
import type { DeadLetter } from '../../platform/events.ts';
import { createSerde } from '../../platform/serde.ts';
import { startPointOfCare, type PointOfCareHandle } from '../../services/point-of-care/runner.ts';
import { verifySignature, WEBHOOK_HEADERS, WEBHOOK_STAGE } from '../../services/point-of-care/webhooks.ts';
import { isolatedEnv, type TestEnv } from '../support/env.ts';
import { collect, waitFor } from '../support/kafka.ts';

interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** A clinical system's webhook receiver: /flaky fails twice then accepts, /down always fails. */
async function receiver(): Promise<{ server: Server; base: string; got: Received[] }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      got.push({ path: req.url ?? '', headers: req.headers as Record<string, string>, body });
      const tries = got.filter((g) => g.path === req.url).length;
      res.writeHead(req.url === '/down' || (req.url === '/flaky' && tries <= 2) ? 503 : 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { server, base: `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`, got };
}

describe('webhook subscriptions to PGx alerts', () => {
  let env: TestEnv;
  let poc: PointOfCareHandle;
  let idp: LocalIssuer;
  let hooks: Awaited<ReturnType<typeof receiver>>;
  beforeAll(async () => {
    idp = await createLocalIssuer('https://idp.test');
    hooks = await receiver();
    env = await isolatedEnv('webhook', { BACKBONE_WEBHOOK_ATTEMPTS: '3', BACKBONE_WEBHOOK_INITIAL_DELAY_MS: '50' });
    poc = await startPointOfCare(env.config, env.log, { port: 0, userIssuers: [idp.trust()] });
  });
  afterAll(async () => {
    await poc.stop();
    hooks.server.close();
    await env.close();
  });

  it('delivers signed alerts with retries, dead-letters after the last try, and logs every attempt', async () => {
    const admin = await idp.sign({ sub: 'ops', aud: 'backbone', roles: ['admin'] });
    const clinician = await idp.sign({ sub: 'dr', aud: 'backbone', roles: ['clinician'] });
    const register = (token: string, url: string) =>
      fetch(`${poc.url}/api/webhooks`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ url, drugs: ['clopidogrel'] }) });
    expect((await register(clinician, `${hooks.base}/flaky`)).status).toBe(403);
    const flaky = (await (await register(admin, `${hooks.base}/flaky`)).json()) as { id: string; secret: string };
    const down = (await (await register(admin, `${hooks.base}/down`)).json()) as { id: string };
    expect(flaky.secret.length).toBeGreaterThan(30);
    const listed = (await (await fetch(`${poc.url}/api/webhooks`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { subscriptions: object[] };
    expect(listed.subscriptions).toHaveLength(2);
    expect(JSON.stringify(listed)).not.toContain(flaky.secret);

    const serde = createSerde(env.config);
    const producer = await env.kafka.producer();
    const alert = alertEvent('PT-W1');
    await producer.send(topicName(TOPICS.alerts, env.config.topicPrefix), [{ key: 'PT-W1', value: await serde.encode(TOPICS.alerts, alert) }]);
    await producer.close();

    await waitFor('delivery and dead letter', async () => poc.stats, (s) => s.webhooksDelivered >= 1 && s.webhooksDeadLettered >= 1);
    const toFlaky = hooks.got.filter((g) => g.path === '/flaky');
    expect(toFlaky.map((g) => g.headers[WEBHOOK_HEADERS.attempt])).toEqual(['1', '2', '3']);
    const last = toFlaky[2]!;
    expect(verifySignature(flaky.secret, last.headers[WEBHOOK_HEADERS.timestamp] ?? '', last.body, last.headers[WEBHOOK_HEADERS.signature] ?? '')).toBe(true);
    expect(JSON.parse(last.body)).toMatchObject({ type: 'pgx.alert', alert: { alertId: alert.alertId, patientId: 'PT-W1', status: 'ACTIVE' } });
    expect(hooks.got.filter((g) => g.path === '/down')).toHaveLength(3);

    const dead = await collect(env.kafka, topicName(TOPICS.deadLetter, env.config.topicPrefix), 1);
    expect(dead).toHaveLength(1);
    expect(dead[0]?.headers[DLQ_HEADERS.stage]?.toString()).toBe(WEBHOOK_STAGE);
    const letter = await serde.decode<DeadLetter>(TOPICS.deadLetter, dead[0]?.value ?? null);
    expect(letter.reason).toMatch(new RegExp(`webhook ${down.id} answered HTTP 503 after 3 attempt`));
    expect(letter.attempts).toBe(3);

    const log = (await (await fetch(`${poc.url}/api/webhooks/${flaky.id}/deliveries`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { deliveries: { attempt: number; outcome: string }[] };
    expect(log.deliveries.map((d) => [d.attempt, d.outcome]).sort()).toEqual([[1, 'failed'], [2, 'failed'], [3, 'delivered']]);
  });
});
