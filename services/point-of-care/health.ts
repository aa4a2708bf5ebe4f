/**
 * Pipeline health for the page and `GET /api/health`: consumer lag of the backbone's consumer
 * groups, freshness of the point-of-care state, dead-letter counts per stage and the audit backlog.
 * Computed in the background every few seconds, so requests never wait on Kafka.
 */
import { TOPICS, entry } from '../../platform/catalogue.ts';
import { lagOf } from '../../platform/kafka/lag.ts';
import type { AdminPort } from '../../platform/kafka/port.ts';
import type { Logger } from '../../platform/log.ts';
import { describeError } from '../../platform/errors.ts';
import type { StateStats } from './state.ts';

export interface GroupLag {
  group: string;
  topic: string;
  /** Records written and not yet committed by the group; null when the group never committed. */
  lag: number | null;
}

export interface Health {
  at: string;
  ready: boolean;
  state: StateStats;
  freshness: { newestEventAgeMs: number | null; lastApplyDelayMs: number | null };
  lag: GroupLag[];
  deadLetters: { total: number; byStage: Record<string, number> };
  audit: { pending: number; written: number; writable: boolean };
  error: string | null;
}

/** Consumer groups watched, by stage (group id is `${prefix}backbone.${stage}`). */
export const WATCHED: { stage: string; topics: string[] }[] = [
  { stage: 'variant-sink', topics: [TOPICS.genotypeCalls, TOPICS.variantBlocks] },
  { stage: 'pgx-processor', topics: [TOPICS.genotypeCalls, TOPICS.outsideCalls] },
  { stage: 'views-sink', topics: [TOPICS.profiles, TOPICS.alerts] },
  { stage: 'webhooks', topics: [TOPICS.alerts] },
];

export async function groupLags(admin: AdminPort, prefix: string): Promise<GroupLag[]> {
  const out: GroupLag[] = [];
  const highs = new Map<string, { partition: number; high: string; low: string }[]>();
  for (const w of WATCHED) {
    const group = `${prefix}backbone.${w.stage}`;
    for (const t of w.topics) {
      const topic = `${prefix}${t}`;
      let high = highs.get(topic);
      if (high === undefined) highs.set(topic, (high = await admin.topicOffsets(topic)));
      const committed = await admin.groupOffsets(group, topic);
      if (committed.every((c) => BigInt(c.offset) < 0n)) {
        out.push({ group, topic: t, lag: null });
        continue;
      }
      // Transactional topics (profiles, alerts) end in a commit marker: lagOf does not count it.
      const lag = lagOf(high, committed, entry(t).transactional);
      out.push({ group, topic: t, lag: Number(lag) });
    }
  }
  return out;
}

export class HealthMonitor {
  private lags: GroupLag[] = [];
  private error: string | null = null;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly admin: AdminPort,
    private readonly prefix: string,
    private readonly sources: { stats(): StateStats; ready(): boolean; audit(): Health['audit'] },
    private readonly log: Logger,
  ) {}

  start(intervalMs = 2_000): void {
    const tick = async (): Promise<void> => {
      try {
        this.lags = await groupLags(this.admin, this.prefix);
        this.error = null;
      } catch (error) {
        this.error = `consumer lag unavailable: ${describeError(error)}`;
        this.log.warn({ err: this.error }, 'health: lag not refreshed');
      }
    };
    void tick();
    this.timer = setInterval(() => void tick(), intervalMs);
    this.timer.unref();
  }

  snapshot(now = Date.now()): Health {
    const state = this.sources.stats();
    const byStage = state.deadLetters;
    return {
      at: new Date(now).toISOString(),
      ready: this.sources.ready(),
      state,
      freshness: { newestEventAgeMs: state.newestEventAt === null ? null : now - state.newestEventAt, lastApplyDelayMs: state.lastApplyDelayMs },
      lag: this.lags,
      deadLetters: { total: Object.values(byStage).reduce((a, b) => a + b, 0), byStage },
      audit: this.sources.audit(),
      error: this.error,
    };
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }
}
