/**
 * The audit trail: every read of patient data (allowed or denied) and every CDS call becomes an
 * AuditEvent on ops.audit.v1. Entries of one service instance are hash-chained (each carries the
 * SHA-256 of the previous one), so a removed or altered entry is detectable with `verifyChain`.
 *
 * Recording is synchronous and cheap (the request path only hashes); entries are written to Kafka
 * in the background in small batches, in order. If they cannot be written and the backlog grows past
 * its bound, `writable` turns false and callers fail closed (no audit, no access).
 */
import { createHash } from 'node:crypto';
import { TOPICS, topicName } from '../catalogue.ts';
import type { AuditEvent } from '../events.ts';
import type { ProducerPort } from '../kafka/port.ts';
import type { Logger } from '../log.ts';
import type { Serde } from '../serde.ts';
import { describeError } from '../errors.ts';

export type AuditEntry = Pick<AuditEvent, 'actor' | 'roles' | 'action' | 'resource' | 'patientId' | 'outcome' | 'reason' | 'purpose' | 'requestId'>;

/** Canonical text of an entry's fields (everything but `hash`), in schema order. */
function canonical(e: Omit<AuditEvent, 'hash'>): string {
  return JSON.stringify([e.auditId, e.at, e.service, e.actor, e.roles, e.action, e.resource, e.patientId, e.outcome, e.reason, e.purpose, e.requestId, e.prevHash]);
}

export function auditHash(e: Omit<AuditEvent, 'hash'>): string {
  return createHash('sha256').update(canonical(e)).digest('hex');
}

/** Checks one instance's entries, in order: each hash is right and names the one before. */
export function verifyChain(events: readonly AuditEvent[]): { ok: true } | { ok: false; index: number; reason: string } {
  let prev: string | undefined;
  for (const [index, e] of events.entries()) {
    if (prev !== undefined && e.prevHash !== prev) return { ok: false, index, reason: 'prevHash does not match the previous entry (entry removed or reordered)' };
    if (auditHash(e) !== e.hash) return { ok: false, index, reason: 'hash does not match the entry (entry altered)' };
    prev = e.hash;
  }
  return { ok: true };
}

export interface AuditTrailOptions {
  /** Service and instance name; also the Kafka key, so one instance's chain stays in order. */
  service: string;
  write(events: AuditEvent[]): Promise<void>;
  log: Logger;
  flushMs?: number;
  maxBacklog?: number;
  now?: () => number;
}

export class AuditTrail {
  private prevHash = '';
  private sequence = 0;
  private backlog: AuditEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private failures = 0;
  private readonly now: () => number;
  private readonly maxBacklog: number;
  written = 0;

  constructor(private readonly options: AuditTrailOptions) {
    this.now = options.now ?? Date.now;
    this.maxBacklog = options.maxBacklog ?? 20_000;
    this.timer = setInterval(() => void this.flush(), options.flushMs ?? 20);
    this.timer.unref();
  }

  /** False when entries cannot be written and the backlog is full: refuse patient reads. */
  get writable(): boolean {
    return this.backlog.length < this.maxBacklog;
  }

  record(entry: AuditEntry): AuditEvent {
    const body: Omit<AuditEvent, 'hash'> = {
      auditId: `${this.options.service}:${++this.sequence}`,
      at: this.now(),
      service: this.options.service,
      ...entry,
      prevHash: this.prevHash,
    };
    const event: AuditEvent = { ...body, hash: auditHash(body) };
    this.prevHash = event.hash;
    this.backlog.push(event);
    return event;
  }

  /** Writes what is pending; one flush at a time, so the chain reaches Kafka in order. */
  flush(): Promise<void> {
    if (this.flushing !== undefined) return this.flushing;
    if (this.backlog.length === 0) return Promise.resolve();
    this.flushing = (async () => {
      await Promise.resolve(); // `flushing` is set before the body runs
      try {
        while (this.backlog.length > 0) {
          const batch = this.backlog.slice(0, 1000);
          await this.options.write(batch);
          this.backlog.splice(0, batch.length);
          this.written += batch.length;
          this.failures = 0;
        }
      } catch (error) {
        this.failures++;
        if (this.failures === 1 || this.failures % 100 === 0) {
          this.options.log.error({ err: describeError(error), backlog: this.backlog.length }, 'audit entries not written yet; retrying');
        }
      } finally {
        this.flushing = undefined;
      }
    })();
    return this.flushing;
  }

  get pending(): number {
    return this.backlog.length;
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
    if (this.backlog.length > 0) this.options.log.error({ lost: this.backlog.length }, 'audit entries could not be written before shutdown');
  }
}

/** Writes audit entries to ops.audit.v1 (key: service instance). */
export function kafkaAuditWriter(producer: ProducerPort, serde: Serde, topicPrefix: string): (events: AuditEvent[]) => Promise<void> {
  const topic = topicName(TOPICS.audit, topicPrefix);
  return async (events) => {
    const records = await Promise.all(events.map(async (e) => ({ key: e.service, value: await serde.encode(TOPICS.audit, e) })));
    await producer.send(topic, records);
  };
}
