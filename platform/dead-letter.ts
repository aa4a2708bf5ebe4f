/**
 * Dead-letter publishing: a record that cannot be processed is written, with the reason and its
 * original bytes, to the dead-letter topic before its offset is committed, so nothing accepted is lost
 * and one bad record never stops a stream.
 */
import { TOPICS, topicName } from './catalogue.ts';
import { describeError, errorClass, isRetriable } from './errors.ts';
import type { DeadLetter } from './events.ts';
import type { IncomingRecord, OutgoingRecord, ProducerPort } from './kafka/port.ts';
import type { Serde } from './serde.ts';
import { injectTraceHeaders } from './telemetry.ts';

export interface DeadLetterInput {
  error: unknown;
  /** A record read from Kafka, when the failure happened in a processor. */
  record?: IncomingRecord;
  /** For connector input that never reached Kafka: document id and position. */
  sourceRef?: string;
  /** Offending input bytes when there is no Kafka record. */
  originalValue?: Buffer;
  attempts?: number;
}

export const DLQ_HEADERS = {
  reason: 'dlq.reason',
  stage: 'dlq.stage',
  errorClass: 'dlq.error.class',
  topic: 'dlq.source.topic',
  partition: 'dlq.source.partition',
  offset: 'dlq.source.offset',
} as const;

/** Dead letters must fit under the broker's message size limit, whatever the input was. */
export const MAX_ORIGINAL_BYTES = 256 * 1024;

function capped(bytes: Buffer | null): Buffer | null {
  return bytes === null || bytes.length <= MAX_ORIGINAL_BYTES ? bytes : bytes.subarray(0, MAX_ORIGINAL_BYTES);
}

/** Pure: the dead-letter record for a failure. Reasons come from our errors, which carry no patient ids. */
export function deadLetterRecord(stage: string, input: DeadLetterInput, now: number): { value: DeadLetter; headers: Record<string, string> } {
  const original = input.record?.value ?? input.originalValue;
  const truncated = original !== undefined && original !== null && original.length > MAX_ORIGINAL_BYTES;
  const reason = `${describeError(input.error).slice(0, 2000)}${truncated ? ` [original value of ${original.length} bytes truncated to ${MAX_ORIGINAL_BYTES}]` : ''}`;
  const r = input.record;
  const originalHeaders: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(r?.headers ?? {})) if (v !== undefined) originalHeaders[k] = Buffer.from(v);
  const value: DeadLetter = {
    failedAt: now,
    stage,
    reason,
    errorClass: errorClass(input.error),
    retriable: isRetriable(input.error),
    attempts: input.attempts ?? 1,
    sourceTopic: r?.topic ?? null,
    sourcePartition: r?.partition ?? null,
    sourceOffset: r === undefined ? null : Number(r.offset),
    sourceRef: input.sourceRef ?? null,
    originalKey: r?.key ?? null,
    originalValue: capped(r?.value ?? input.originalValue ?? null),
    originalHeaders,
  };
  const headers: Record<string, string> = {
    [DLQ_HEADERS.reason]: reason,
    [DLQ_HEADERS.stage]: stage,
    [DLQ_HEADERS.errorClass]: value.errorClass,
  };
  if (r !== undefined) {
    headers[DLQ_HEADERS.topic] = r.topic;
    headers[DLQ_HEADERS.partition] = String(r.partition);
    headers[DLQ_HEADERS.offset] = r.offset;
  }
  return { value, headers };
}

export class DeadLetterPublisher {
  private readonly topic: string;

  constructor(
    private readonly stage: string,
    private readonly producer: ProducerPort | undefined,
    private readonly serde: Serde,
    topicPrefix: string,
    private readonly now: () => number = Date.now,
  ) {
    this.topic = topicName(TOPICS.deadLetter, topicPrefix);
  }

  get topicName(): string {
    return this.topic;
  }

  /** Resolves once every dead letter is acknowledged by Kafka. */
  async publish(inputs: DeadLetterInput[]): Promise<void> {
    if (inputs.length === 0) return;
    if (this.producer === undefined) throw new Error('this dead-letter publisher only builds records');
    await this.producer.send(this.topic, await this.records(inputs));
  }

  /** The dead-letter records, for callers that write them inside their own transaction. */
  async records(inputs: DeadLetterInput[]): Promise<OutgoingRecord[]> {
    const records: OutgoingRecord[] = [];
    for (const input of inputs) {
      const { value, headers } = deadLetterRecord(this.stage, input, this.now());
      records.push({
        key: this.stage,
        value: await this.serde.encode(TOPICS.deadLetter, value),
        headers: injectTraceHeaders({ ...headers }),
      });
    }
    return records;
  }
}
