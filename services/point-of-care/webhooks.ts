/**
 * Alert subscriptions by webhook. Registrations live in ClickHouse (`webhook_subscriptions`); a
 * dispatcher with its own consumer group reads pgx.alerts.v1 and POSTs every matching alert to each
 * subscriber, signed with HMAC-SHA256, retrying with exponential backoff; after the last attempt the
 * alert goes to the dead-letter topic for that subscriber. Every attempt is written to
 * `webhook_deliveries`. Offsets are committed after the batch is delivered or dead-lettered, so
 * delivery is at least once; receivers deduplicate by the X-Backbone-Delivery id.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ClickHouseClient } from '../../platform/clickhouse/client.ts';
import { insertRows, queryRows } from '../../platform/clickhouse/client.ts';
import type { DeadLetterInput } from '../../platform/dead-letter.ts';
import { BackboneError, InvalidInputError, describeError } from '../../platform/errors.ts';
import type { PgxAlert } from '../../platform/events.ts';
import type { IncomingRecord } from '../../platform/kafka/port.ts';
import type { Logger } from '../../platform/log.ts';
import { sleep } from '../../platform/retry.ts';

export const WEBHOOK_STAGE = 'webhooks';

export const WEBHOOK_HEADERS = {
  signature: 'x-backbone-signature',
  timestamp: 'x-backbone-timestamp',
  delivery: 'x-backbone-delivery',
  attempt: 'x-backbone-attempt',
  event: 'x-backbone-event',
} as const;

export interface Subscription {
  id: string;
  url: string;
  secret: string;
  /** Only alerts for these drugs; empty: all. */
  drugs: string[];
  active: boolean;
  createdBy: string;
  createdAt: number;
}

/** `sha256=<hex>` over `${timestamp}.${body}`; the timestamp lets receivers refuse old replays. */
export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** For receivers (and tests): constant-time check of a delivery's signature. */
export function verifySignature(secret: string, timestamp: string, body: string, header: string): boolean {
  const expected = Buffer.from(signature(secret, timestamp, body));
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export function matches(sub: Subscription, alert: PgxAlert): boolean {
  return sub.active && (sub.drugs.length === 0 || sub.drugs.includes(alert.drug));
}

/** Same alert, same subscriber → same id, across retries and redeliveries. */
export function deliveryId(alert: PgxAlert, record: Pick<IncomingRecord, 'partition' | 'offset'>, sub: Pick<Subscription, 'id'>): string {
  return createHash('sha256').update(`${sub.id}|${alert.alertId}|${record.partition}|${record.offset}`).digest('hex').slice(0, 32);
}

export function payload(alert: PgxAlert, id: string): string {
  return JSON.stringify({ type: 'pgx.alert', deliveryId: id, alert });
}

/** Backoff before attempt n+1 (n ≥ 1): initial · 2^(n-1), capped, with jitter in [50 %, 100 %]. */
export function backoffMs(attempt: number, initialMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(60_000, initialMs * 2 ** (attempt - 1));
  return Math.round(ceiling * (0.5 + random() / 2));
}

export function validateRegistration(body: unknown): { url: string; drugs: string[] } {
  if (typeof body !== 'object' || body === null) throw new InvalidInputError('body must be { "url": "https://...", "drugs": [...] }');
  const { url, drugs } = body as { url?: unknown; drugs?: unknown };
  if (typeof url !== 'string') throw new InvalidInputError('url is required');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidInputError(`url '${url}' is not a URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new InvalidInputError('url must be http(s)');
  if (drugs !== undefined && (!Array.isArray(drugs) || drugs.some((d) => typeof d !== 'string'))) throw new InvalidInputError('drugs must be an array of drug names');
  return { url, drugs: ((drugs as string[] | undefined) ?? []).map((d) => d.toLowerCase()) };
}

class DeliveryFailed extends BackboneError {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message, { retriable: !permanent });
  }
}

export interface DeliveryRow {
  delivery_id: string;
  subscription_id: string;
  alert_id: string;
  drug: string;
  attempt: number;
  outcome: 'delivered' | 'failed' | 'dead-lettered';
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  at: string;
}

export interface DispatcherDeps {
  subscriptions(): Subscription[];
  decode(record: IncomingRecord): Promise<PgxAlert>;
  deadLetter(inputs: DeadLetterInput[]): Promise<void>;
  logDeliveries(rows: DeliveryRow[]): Promise<void>;
  log: Logger;
  attempts: number;
  initialDelayMs: number;
  timeoutMs: number;
  fetch?: typeof fetch;
  now?: () => number;
}

/** The dispatcher's batch step: every matching alert delivered (or dead-lettered) before it resolves. */
export function createDispatcher(deps: DispatcherDeps) {
  const doFetch = deps.fetch ?? fetch;
  const now = deps.now ?? Date.now;

  async function attempt(sub: Subscription, body: string, id: string, n: number): Promise<{ status: number }> {
    const timestamp = String(Math.floor(now() / 1000));
    let response: Response;
    try {
      response = await doFetch(sub.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [WEBHOOK_HEADERS.signature]: signature(sub.secret, timestamp, body),
          [WEBHOOK_HEADERS.timestamp]: timestamp,
          [WEBHOOK_HEADERS.delivery]: id,
          [WEBHOOK_HEADERS.attempt]: String(n),
          [WEBHOOK_HEADERS.event]: 'pgx.alert',
        },
        body,
        signal: AbortSignal.timeout(deps.timeoutMs),
        redirect: 'error',
      });
      await response.arrayBuffer().catch(() => undefined);
    } catch (error) {
      throw new DeliveryFailed(`no answer: ${describeError(error)}`, false);
    }
    if (response.status >= 200 && response.status < 300) return { status: response.status };
    const permanent = response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429;
    throw Object.assign(new DeliveryFailed(`answered HTTP ${response.status}`, permanent), { status: response.status });
  }

  async function deliver(sub: Subscription, alert: PgxAlert, record: IncomingRecord, rows: DeliveryRow[], dead: DeadLetterInput[], signal?: AbortSignal): Promise<void> {
    const id = deliveryId(alert, record, sub);
    const body = payload(alert, id);
    for (let n = 1; n <= deps.attempts; n++) {
      const started = performance.now();
      const row = (outcome: DeliveryRow['outcome'], status: number | null, error: string | null): DeliveryRow => ({
        delivery_id: id,
        subscription_id: sub.id,
        alert_id: alert.alertId,
        drug: alert.drug,
        attempt: n,
        outcome,
        status_code: status,
        error,
        duration_ms: Math.round((performance.now() - started) * 100) / 100,
        at: (now() / 1000).toFixed(3),
      });
      try {
        const { status } = await attempt(sub, body, id, n);
        rows.push(row('delivered', status, null));
        return;
      } catch (error) {
        const failure = error instanceof DeliveryFailed ? error : new DeliveryFailed(describeError(error), false);
        const status = (error as { status?: number }).status ?? null;
        const last = n === deps.attempts || failure.permanent || signal?.aborted === true;
        rows.push(row(last ? 'dead-lettered' : 'failed', status, failure.message));
        if (last) {
          dead.push({
            error: new DeliveryFailed(`webhook ${sub.id} ${failure.message} after ${n} attempt(s)`, failure.permanent),
            record,
            attempts: n,
          });
          return;
        }
        await sleep(backoffMs(n, deps.initialDelayMs), signal);
      }
    }
  }

  return async function dispatch(records: IncomingRecord[], signal?: AbortSignal): Promise<{ delivered: number; deadLettered: number }> {
    const subs = deps.subscriptions();
    const rows: DeliveryRow[] = [];
    const dead: DeadLetterInput[] = [];
    // Each subscriber gets the alerts in order; subscribers are served side by side.
    const perSub = new Map<string, { sub: Subscription; items: { alert: PgxAlert; record: IncomingRecord }[] }>();
    for (const record of records) {
      let alert: PgxAlert;
      try {
        alert = await deps.decode(record);
      } catch (error) {
        if (!(error instanceof InvalidInputError)) throw error;
        continue; // the views sink dead-letters undecodable alerts once; not per subscriber
      }
      for (const sub of subs) {
        if (!matches(sub, alert)) continue;
        let entry = perSub.get(sub.id);
        if (entry === undefined) perSub.set(sub.id, (entry = { sub, items: [] }));
        entry.items.push({ alert, record });
      }
    }
    await Promise.all(
      [...perSub.values()].map(async ({ sub, items }) => {
        for (const { alert, record } of items) await deliver(sub, alert, record, rows, dead, signal);
      }),
    );
    await deps.deadLetter(dead);
    await deps.logDeliveries(rows);
    if (dead.length > 0) deps.log.warn({ deadLettered: dead.length }, 'webhook deliveries dead-lettered');
    return { delivered: rows.filter((r) => r.outcome === 'delivered').length, deadLettered: dead.length };
  };
}

/** Registrations in ClickHouse, cached in memory and reloaded periodically (other instances). */
export class SubscriptionStore {
  private cache: Subscription[] = [];

  constructor(private readonly clickhouse: ClickHouseClient) {}

  list(): Subscription[] {
    return this.cache;
  }

  async reload(): Promise<void> {
    const rows = await queryRows<{ id: string; url: string; secret: string; drugs: string[]; active: number; created_by: string; created_at: string }>(
      this.clickhouse,
      "SELECT id, url, secret, drugs, active, created_by, toUnixTimestamp64Milli(created_at) AS created_at FROM webhook_subscriptions FINAL WHERE active = 1 ORDER BY created_at",
    );
    this.cache = rows.map((r) => ({ id: r.id, url: r.url, secret: r.secret, drugs: r.drugs, active: Number(r.active) === 1, createdBy: r.created_by, createdAt: Number(r.created_at) }));
  }

  async register(url: string, drugs: string[], createdBy: string): Promise<Subscription> {
    const sub: Subscription = { id: randomBytes(8).toString('hex'), url, secret: randomBytes(32).toString('base64url'), drugs, active: true, createdBy, createdAt: Date.now() };
    await this.write(sub);
    return sub;
  }

  async remove(id: string): Promise<boolean> {
    const sub = this.cache.find((s) => s.id === id);
    if (sub === undefined) return false;
    await this.write({ ...sub, active: false });
    return true;
  }

  private async write(sub: Subscription): Promise<void> {
    await insertRows(
      this.clickhouse,
      'webhook_subscriptions',
      [{ id: sub.id, url: sub.url, secret: sub.secret, drugs: sub.drugs, active: sub.active ? 1 : 0, created_by: sub.createdBy, created_at: (sub.createdAt / 1000).toFixed(3), version: Date.now() }],
      `sub-${sub.id}-${Date.now()}`,
    );
    await this.reload();
  }

  async deliveries(subscriptionId: string, limit = 100): Promise<DeliveryRow[]> {
    return queryRows<DeliveryRow>(
      this.clickhouse,
      'SELECT delivery_id, subscription_id, alert_id, drug, attempt, outcome, status_code, error, duration_ms, toString(at) AS at FROM webhook_deliveries WHERE subscription_id = {id:String} ORDER BY at DESC LIMIT {limit:UInt32}',
      { id: subscriptionId, limit },
    );
  }
}

export async function logDeliveries(clickhouse: ClickHouseClient, rows: DeliveryRow[]): Promise<void> {
  if (rows.length === 0) return;
  const token = createHash('sha256').update(rows.map((r) => `${r.delivery_id}|${r.attempt}|${r.at}`).join('\n')).digest('hex');
  await insertRows(clickhouse, 'webhook_deliveries', rows, token);
}

