/**
 * Thin runner of the events-file connector: streams a JSON Lines file, publishes valid events keyed
 * by patient, dead-letters invalid lines with their line number, and announces the document.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Config } from '../../platform/config.ts';
import { TOPICS, topicName } from '../../platform/catalogue.ts';
import { DeadLetterPublisher } from '../../platform/dead-letter.ts';
import { InvalidInputError } from '../../platform/errors.ts';
import type { SourceDocumentReceived } from '../../platform/events.ts';
import type { KafkaPort, OutgoingRecord, ProducerPort } from '../../platform/kafka/port.ts';
import type { Logger } from '../../platform/log.ts';
import { createSerde } from '../../platform/serde.ts';
import { SpanKind, injectTraceHeaders, withSpan } from '../../platform/telemetry.ts';
import { PIPELINE_VERSION } from '../../platform/version.ts';
import { CONNECTOR, PUBLISHABLE, deterministicEventId, parseLine, type PublishableKind } from './core.ts';

export interface PublishSummary {
  file: string;
  sha256: string;
  lines: number;
  events: number;
  deadLettered: number;
  seconds: number;
}

const BATCH = 500;

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function publishEventsFile(
  config: Config,
  log: Logger,
  kafka: KafkaPort,
  file: string,
  kind: PublishableKind,
  options: { lab?: string } = {},
): Promise<PublishSummary> {
  const started = performance.now();
  const info = await stat(file).catch(() => {
    throw new InvalidInputError(`${file}: no such file`);
  });
  if (!info.isFile()) throw new InvalidInputError(`${file}: not a regular file`);
  if (info.size === 0) throw new InvalidInputError(`${file}: the file is empty`);
  const sha256 = await sha256Of(file);
  const sourceId = `sha256:${sha256}`;
  const facts = { sha256, sourceId, ingestedAt: Date.now(), pipelineVersion: PIPELINE_VERSION };
  const serde = createSerde(config);
  const producer = await kafka.producer();
  const deadLetters = new DeadLetterPublisher(CONNECTOR, producer, serde, config.topicPrefix);
  const topic = topicName(PUBLISHABLE[kind], config.topicPrefix);
  let lines = 0;
  let events = 0;
  let deadLettered = 0;
  try {
    await withSpan(`${topic} publish`, { 'messaging.system': 'kafka', 'messaging.destination.name': topic }, async () => {
      let pending: OutgoingRecord[] = [];
      const flush = async (): Promise<void> => {
        await producer.send(topic, pending);
        events += pending.length;
        pending = [];
      };
      // The ids were derived from the first pass's hash; this pass hashes again what it really reads.
      const input = createReadStream(file);
      const reread = createHash('sha256');
      input.on('data', (chunk) => reread.update(chunk as Buffer));
      const reader = createInterface({ input, crlfDelay: Infinity });
      for await (const text of reader) {
        lines++;
        const result = parseLine(text, lines, kind, facts);
        if (result === undefined) continue;
        if (!result.ok) {
          await deadLetters.publish([{ error: result.error, sourceRef: `${sourceId}#line=${result.line}`, originalValue: Buffer.from(text) }]);
          deadLettered++;
          continue;
        }
        pending.push({ key: result.key, value: await serde.encode(PUBLISHABLE[kind], result.value), headers: injectTraceHeaders({}) });
        if (pending.length >= BATCH) await flush();
      }
      await flush();
      if (reread.digest('hex') !== sha256) {
        throw new InvalidInputError(`${file}: the file changed while it was being read; re-send it once it is complete`);
      }
    }, { kind: SpanKind.PRODUCER });
    if (events === 0 && deadLettered === 0) throw new InvalidInputError(`${file}: no events in the file (only blank or comment lines)`);
    await announce(producer, serde, config, {
      eventId: deterministicEventId(sha256, 0),
      sourceId,
      sourceKind: 'OTHER',
      sha256,
      byteSize: info.size,
      mediaType: 'application/x-ndjson',
      fileName: path.basename(file),
      lab: options.lab ?? null,
      submittedBy: null,
      receivedAt: facts.ingestedAt,
      connector: CONNECTOR,
      pipelineVersion: PIPELINE_VERSION,
      eventCount: events,
      deadLettered,
    });
  } finally {
    await producer.close();
  }
  const summary = { file, sha256, lines, events, deadLettered, seconds: (performance.now() - started) / 1000 };
  log.info({ sha256, lines, events, deadLettered }, 'events file published');
  return summary;
}

async function announce(producer: ProducerPort, serde: ReturnType<typeof createSerde>, config: Config, doc: SourceDocumentReceived): Promise<void> {
  await producer.send(topicName(TOPICS.sourceDocuments, config.topicPrefix), [
    { key: doc.sourceId, value: await serde.encode(TOPICS.sourceDocuments, doc), headers: injectTraceHeaders({}) },
  ]);
}
