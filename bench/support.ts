/**
 * What the benchmarks share: publishing at a fixed rate, watching sampled ids until a reader sees
 * them, and percentiles. Latency is measured from the producer's acknowledgement of the batch that
 * carried an id to the moment the reader first sees it.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../platform/config.ts';
import type { OutgoingRecord } from '../platform/kafka/port.ts';
import { sleep } from '../platform/retry.ts';

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

export function summary(sorted: readonly number[], digits = 0): string {
  return `p50 ${percentile(sorted, 50).toFixed(digits)} ms, p99 ${percentile(sorted, 99).toFixed(digits)} ms, max ${(sorted.at(-1) ?? Number.NaN).toFixed(digits)} ms`;
}

/** p50/p99 per window of `windowMs` from the first send: whether the tail grows through a run. */
export function windows(timeline: readonly [number, number][], windowMs: number): string {
  if (timeline.length === 0) return '';
  const start = Math.min(...timeline.map(([t]) => t));
  const groups: number[][] = [];
  for (const [t, latency] of timeline) (groups[Math.floor((t - start) / windowMs)] ??= []).push(latency);
  return groups
    .map((g, i) => {
      const sorted = [...g].sort((a, b) => a - b);
      return `${(i * windowMs) / 1000}-${((i + 1) * windowMs) / 1000} s: p50 ${percentile(sorted, 50).toFixed(0)}, p99 ${percentile(sorted, 99).toFixed(0)}`;
    })
    .join(' | ');
}

export interface RateOptions {
  rate: number;
  seconds: number;
  /** Builds record n and, when it is to be watched, the id the reader will report. */
  make: (n: number) => Promise<{ record: OutgoingRecord; watch?: string }>;
  send: (records: OutgoingRecord[]) => Promise<void>;
  /** Which of these ids the reader sees now (polled), or undefined when `see` is pushed instead. */
  visible?: (ids: string[]) => Promise<string[]>;
  /** How long to wait for the last watched ids after publishing ends. */
  drainMs?: number;
}

export interface RateResult {
  /** Sorted latencies of the watched ids that were seen. */
  latencies: number[];
  watched: number;
  achieved: number;
  /** For push-style readers: report an id as seen. */
  see: (id: string) => void;
}

/** Starts the measurement; `see` can be handed to a consumer before publishing starts. */
export interface Meter {
  see: (id: string) => void;
  acked: (id: string, at: number) => void;
  sentAt: Map<string, number>;
  latencies: number[];
  /** [when the id was sent (performance.now()), its latency], in the order seen: how latency moves through a run. */
  timeline: [number, number][];
}

export function rateMeter(): Meter {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const timeline: [number, number][] = [];
  // Seen before its batch's acknowledgement arrived: counts as 0 ms.
  const early = new Set<string>();
  const see = (id: string): void => {
    const t = sentAt.get(id);
    if (t === undefined) {
      early.add(id);
      return;
    }
    const latency = performance.now() - t;
    latencies.push(latency);
    timeline.push([t, latency]);
    sentAt.delete(id);
  };
  const acked = (id: string, at: number): void => {
    if (early.delete(id)) {
      latencies.push(0);
      timeline.push([at, 0]);
    } else sentAt.set(id, at);
  };
  return { see, acked, sentAt, latencies, timeline };
}

export async function publishAtRate(options: RateOptions, meter = rateMeter()): Promise<RateResult> {
  const { sentAt, latencies, see, acked } = meter;
  let producing = true;
  const poller = (async () => {
    if (options.visible === undefined) return;
    while (producing || sentAt.size > 0) {
      const ids = [...sentAt.keys()];
      if (ids.length > 0) for (const id of await options.visible(ids)) see(id);
      await sleep(10);
    }
  })();
  const total = options.rate * options.seconds;
  const tickMs = 10;
  const perTick = Math.max(1, Math.round((options.rate * tickMs) / 1000));
  const begin = performance.now();
  const sends: Promise<void>[] = [];
  let watched = 0;
  for (let n = 0, tick = 0; n < total; tick++) {
    const wait = begin + tick * tickMs - performance.now();
    if (wait > 0) await sleep(wait);
    const batch: OutgoingRecord[] = [];
    const ids: string[] = [];
    for (let i = 0; i < perTick && n < total; i++, n++) {
      const { record, watch } = await options.make(n);
      batch.push(record);
      if (watch !== undefined) ids.push(watch);
    }
    watched += ids.length;
    sends.push(
      options.send(batch).then(() => {
        const t = performance.now();
        for (const id of ids) acked(id, t);
      }),
    );
  }
  await Promise.all(sends);
  const achieved = total / ((performance.now() - begin) / 1000);
  const deadline = Date.now() + (options.drainMs ?? 60_000);
  while (sentAt.size > 0 && Date.now() < deadline) await sleep(20);
  producing = false;
  sentAt.clear();
  await poller;
  latencies.sort((a, b) => a - b);
  return { latencies, watched, achieved, see };
}

/**
 * Settings of a benchmark run isolated on the running stack: the servers of `base`, its own topic
 * prefix and ClickHouse database, and the batching of the sinks and the processor as configured, so
 * that child processes measure what was configured rather than the defaults.
 */
export function isolatedSettings(base: Config, name: string, runId: string, logLevel = 'warn'): Record<string, string> {
  return {
    BACKBONE_KAFKA_BROKERS: base.kafkaBrokers.join(','),
    BACKBONE_REGISTRY_URL: base.registryUrl,
    BACKBONE_CLICKHOUSE_URL: base.clickhouseUrl,
    BACKBONE_TOPIC_PREFIX: `${name}-${runId}.`,
    BACKBONE_CLICKHOUSE_DATABASE: `${name.replaceAll('-', '_')}_${runId}`,
    BACKBONE_LOG_LEVEL: logLevel,
    BACKBONE_SINK_BATCH_SIZE: String(base.sinkBatchSize),
    BACKBONE_SINK_BATCH_BYTES: String(base.sinkBatchBytes),
    BACKBONE_SINK_BATCH_MAX_MS: String(base.sinkBatchMaxMs),
    BACKBONE_PROCESSOR_BATCH_SIZE: String(base.processorBatchSize),
    BACKBONE_PROCESSOR_BATCH_BYTES: String(base.processorBatchBytes),
    BACKBONE_PROCESSOR_BATCH_MAX_MS: String(base.processorBatchMaxMs),
  };
}

/** Node flags for a child process that writes a V8 CPU profile into `dir` when it stops (none without a dir). */
export function cpuProfileFlags(dir: string | undefined): string[] {
  return dir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}

interface MachineSample {
  /** Jiffies by /proc/stat field: user nice system idle iowait irq softirq steal. */
  cpu: number[];
  /** KB written to block devices (/proc/vmstat pgpgout). */
  writtenKb: number;
}

/** The machine's CPU and disk-write counters (Linux); undefined elsewhere. */
export function machineSample(): MachineSample | undefined {
  try {
    const cpu = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
    const out = /^pgpgout (\d+)$/m.exec(readFileSync('/proc/vmstat', 'utf8'));
    return { cpu, writtenKb: Number(out?.[1] ?? Number.NaN) };
  } catch {
    return undefined;
  }
}

/**
 * What else the machine did between two samples: how busy its cores were, the share taken by the
 * hypervisor (steal), the share spent waiting for the disk, and how much was written to disk. A
 * latency tail that coincides with steal or a burst of writeback is the machine's, not the code's.
 */
export function describeMachine(from: MachineSample | undefined, to: MachineSample | undefined): string {
  if (from === undefined || to === undefined) return 'machine counters not available';
  const d = to.cpu.map((v, i) => v - (from.cpu[i] ?? 0));
  const total = d.reduce((a, b) => a + b, 0) || 1;
  const pct = (n: number): string => `${((100 * n) / total).toFixed(0)} %`;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = d;
  return `busy ${pct(user + nice + system + irq + softirq)}, idle ${pct(idle)}, iowait ${pct(iowait)}, steal ${pct(steal)}, ${((to.writtenKb - from.writtenKb) / 1024).toFixed(0)} MB written to disk`;
}
