import { describe, expect, it } from 'vitest';
import { alertEvent } from '../../bench/poc-events.ts';
import type { DeadLetterInput } from '../../platform/dead-letter.ts';
import { InvalidInputError } from '../../platform/errors.ts';
import type { IncomingRecord } from '../../platform/kafka/port.ts';
import { createLogger } from '../../platform/log.ts';
import { backoffMs, createDispatcher, signature, validateRegistration, verifySignature, WEBHOOK_HEADERS, type DeliveryRow, type Subscription } from '../../services/point-of-care/webhooks.ts';

const log = createLogger({ level: 'silent', name: 'test' });
const sub = (id: string, drugs: string[] = []): Subscription => ({ id, url: `http://receiver.test/${id}`, secret: `secret-${id}`, drugs, active: true, createdBy: 'admin', createdAt: 0 });
const record = (offset: number, value = 'alert'): IncomingRecord => ({ topic: 'pgx.alerts.v1', partition: 1, offset: String(offset), key: Buffer.from('P1'), value: Buffer.from(value), headers: {}, timestamp: '0' });

function harness(answer: (url: string, attempt: number) => number, subs: Subscription[]) {
  const calls: { url: string; headers: Record<string, string>; body: string }[] = [];
  const dead: DeadLetterInput[] = [];
  const rows: DeliveryRow[] = [];
  const dispatch = createDispatcher({
    subscriptions: () => subs,
    decode: async (r) => {
      if (r.value?.toString() === 'garbage') throw new InvalidInputError('not avro');
      return alertEvent('P1', 'ACTIVE', { createdAt: 1 });
    },
    deadLetter: async (d) => void dead.push(...d),
    logDeliveries: async (r) => void rows.push(...r),
    log,
    attempts: 3,
    initialDelayMs: 1,
    timeoutMs: 1_000,
    fetch: async (url, init) => {
      const headers = init?.headers as Record<string, string>;
      const target = url instanceof Request ? url.url : url.toString();
      calls.push({ url: target, headers, body: init?.body as string });
      const status = answer(target, Number(headers[WEBHOOK_HEADERS.attempt]));
      return new Response(status === 204 ? null : '{}', { status });
    },
  });
  return { dispatch, calls, dead, rows };
}

describe('webhook signing', () => {
  it('signs timestamp.body with HMAC-SHA256 and verifies in constant time', () => {
    const sig = signature('s3cret', '1763800000', '{"a":1}');
    expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifySignature('s3cret', '1763800000', '{"a":1}', sig)).toBe(true);
    expect(verifySignature('s3cret', '1763800001', '{"a":1}', sig)).toBe(false);
    expect(verifySignature('other', '1763800000', '{"a":1}', sig)).toBe(false);
  });

  it('backs off exponentially with jitter', () => {
    expect([1, 2, 3, 4].map((n) => backoffMs(n, 500, () => 1))).toEqual([500, 1000, 2000, 4000]);
    expect(backoffMs(3, 500, () => 0)).toBe(1000);
  });

  it('validates registrations', () => {
    expect(validateRegistration({ url: 'https://ehr.example.org/hooks', drugs: ['Clopidogrel'] })).toEqual({ url: 'https://ehr.example.org/hooks', drugs: ['clopidogrel'] });
    expect(() => validateRegistration({ url: 'ftp://x' })).toThrow(/http\(s\)/);
    expect(() => validateRegistration({})).toThrow(/url is required/);
  });
});

describe('webhook dispatcher', () => {
  it('delivers signed payloads, retrying a failing receiver until it answers', async () => {
    const h = harness((_url, attempt) => (attempt < 3 ? 503 : 204), [sub('a')]);
    expect(await h.dispatch([record(7)])).toEqual({ delivered: 1, deadLettered: 0 });
    expect(h.calls).toHaveLength(3);
    const last = h.calls[2];
    expect(verifySignature('secret-a', last?.headers[WEBHOOK_HEADERS.timestamp] ?? '', last?.body ?? '', last?.headers[WEBHOOK_HEADERS.signature] ?? '')).toBe(true);
    expect(new Set(h.calls.map((c) => c.headers[WEBHOOK_HEADERS.delivery])).size).toBe(1);
    expect(JSON.parse(last?.body ?? '{}')).toMatchObject({ type: 'pgx.alert', alert: { patientId: 'P1', drug: 'clopidogrel' } });
    expect(h.rows.map((r) => [r.attempt, r.outcome, r.status_code])).toEqual([
      [1, 'failed', 503],
      [2, 'failed', 503],
      [3, 'delivered', 204],
    ]);
  });

  it('dead-letters after the last attempt, at once for a permanent refusal, and serves the others', async () => {
    const h = harness((url) => (url.endsWith('/down') ? 500 : url.endsWith('/gone') ? 410 : 200), [sub('down'), sub('gone'), sub('ok'), sub('warfarin-only', ['warfarin'])]);
    const outcome = await h.dispatch([record(1), record(2, 'garbage')]);
    expect(outcome).toEqual({ delivered: 1, deadLettered: 2 });
    expect(h.calls.filter((c) => c.url.endsWith('/down'))).toHaveLength(3);
    expect(h.calls.filter((c) => c.url.endsWith('/gone'))).toHaveLength(1);
    expect(h.calls.some((c) => c.url.endsWith('/warfarin-only'))).toBe(false);
    const reasons = h.dead.map((d) => String(d.error)).sort();
    expect(reasons[0]).toMatch(/webhook down answered HTTP 500 after 3 attempt\(s\)/);
    expect(reasons[1]).toMatch(/webhook gone answered HTTP 410 after 1 attempt\(s\)/);
    expect(h.dead.every((d) => d.record?.offset === '1')).toBe(true);
  });
});
