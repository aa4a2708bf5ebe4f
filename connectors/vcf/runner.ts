/**
 * Thin runner of the VCF connector: checks and hashes the file, streams its text through the pure
 * core, publishes the events keyed by patient (acks=all, a few batches in flight so scanning and
 * producing overlap), dead-letters rejected records with their line number, and announces the
 * document on ops.source-documents.v1 once every event is acknowledged.
 */
import { createWriteStream, statSync, type Stats } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../../platform/config.ts';
import { TOPICS, topicName } from '../../platform/catalogue.ts';
import { valueType } from '../../platform/conform.ts';
import { DeadLetterPublisher } from '../../platform/dead-letter.ts';
import { InvalidInputError } from '../../platform/errors.ts';
import type { SourceDocumentReceived } from '../../platform/events.ts';
import type { KafkaPort, OutgoingRecord, ProducerPort } from '../../platform/kafka/port.ts';
import type { Logger } from '../../platform/log.ts';
import { createSerde, type Serde } from '../../platform/serde.ts';
import { SpanKind, injectTraceHeaders, withSpan } from '../../platform/telemetry.ts';
import { PIPELINE_VERSION } from '../../platform/version.ts';
import { CONNECTOR, VcfParser, type EncodedEvent, type RejectedRecord, type VcfStats, type WireHeaders } from './core.ts';
import { pgxPositions } from './pgx-positions.ts';
import { BgzfInflation, hashInWorker, inspectFile, readText, sniffCompression, type Compression, type FileInspection } from './reader.ts';
import type { SampleMapping } from './samples.ts';
import { warmUpIfNeeded } from './warm-up.ts';

export interface VcfPublishOptions {
  mapping: SampleMapping;
  lab?: string | null;
  /** Name to announce instead of the path's base name (uploads), or null to withhold it. */
  fileName?: string | null;
  /** Authenticated publisher (HTTP uploads). */
  submittedBy?: string | null;
  /** Write the events as JSON lines here instead of publishing; no server is touched. */
  dryRun?: Writable;
  onProgress?: (p: Progress) => void;
  /** Plain files of at least this many bytes are hashed while scanned (default HASH_WHILE_SCANNING; tests lower it). */
  hashWhileScanningFrom?: number;
}

export interface Progress {
  bytes: number;
  totalBytes: number;
  records: number;
  calls: number;
  events: number;
}

export interface VcfSummary {
  file: string;
  sha256: string;
  compression: string;
  version: string;
  assembly: string;
  assemblyEvidence: string;
  samples: number;
  unmappedSamples: string[];
  records: number;
  events: number;
  /** Of the events, the variant blocks (genomics.variant-blocks.v1); the rest are per-patient. */
  variantBlocks: number;
  calls: number;
  nonRefCalls: number;
  deadLettered: number;
  skippedContigRecords: number;
  skippedContigs: Record<string, number>;
  recordsWithoutGenotypes: number;
  pgx: VcfStats['pgx'];
  seconds: number;
}

/** Records per Kafka produce request are capped by bytes: the broker refuses batches over ~1 MB per partition. */
const MAX_BATCH_BYTES = 900 * 1024;
/**
 * Plain files at least this large are hashed on a worker thread while they are scanned. Below it,
 * hashing first on the main thread is quicker than starting a worker (~35 ms before its hash is
 * ready, while a 4 MB scan takes about as long). For the 18 MB benchmark file, the worker saved
 * a median 20 ms (8 interleaved runs each, 314 vs 336 ms).
 */
export const HASH_WHILE_SCANNING = 4 * 1024 * 1024;
/**
 * Encoded blocks kept while the hash is computed; the scan waits for the hash beyond this. 32 MB
 * holds what a 100-sample file yields while its hash (~0.5 s) is computed: with 8 MB the scan stopped.
 */
export const MAX_WAITING_BYTES = 32 * 1024 * 1024;
/** Produce requests awaiting acknowledgement while the next batches are prepared. */
const MAX_IN_FLIGHT = 4;

/** The wire headers of both kinds of events (their schema ids are looked up at once). */
async function wireHeadersFor(serde: Serde): Promise<WireHeaders> {
  const [calls, block] = await Promise.all([serde.wireHeader(TOPICS.genotypeCalls), serde.wireHeader(TOPICS.variantBlocks)]);
  return { calls, block };
}

export interface VcfDeps {
  config: Config;
  log: Logger;
  kafka?: KafkaPort;
  /**
   * A producer to reuse (watch, serve and a multi-file publish keep one open), possibly still
   * connecting; otherwise one is opened per file.
   */
  producer?: ProducerPort | Promise<ProducerPort>;
}

export async function publishVcf(deps: VcfDeps, file: string, options: VcfPublishOptions): Promise<VcfSummary> {
  const started = performance.now();
  let info: Stats;
  try {
    info = statSync(file); // not the promise: its thread-pool round trip cost ~4 ms of a 1-sample publish
  } catch {
    throw new InvalidInputError(`${file}: no such file`);
  }
  if (!info.isFile()) throw new InvalidInputError(`${file}: not a regular file`);
  if (info.size === 0) throw new InvalidInputError(`${file}: the file is empty`);
  const compression = await sniffCompression(file);
  // A BGZF file starts inflating on a worker at once, so that text is ready when the scan begins.
  const inflation = compression === 'bgzf' ? new BgzfInflation(file) : undefined;
  try {
    return await publishFile(deps, file, options, { started, info, compression, inflation });
  } finally {
    await inflation?.close(); // also when the file is refused or fails before its end was read
  }
}

/** publishVcf once the file is known to exist and how it is compressed. */
async function publishFile(
  deps: VcfDeps,
  file: string,
  options: VcfPublishOptions,
  { started, info, compression, inflation }: { started: number; info: Stats; compression: Compression; inflation: BgzfInflation | undefined },
): Promise<VcfSummary> {
  const { config, log } = deps;
  const plain = compression === 'none';
  // Scanning starts at once. What it does not need runs beside it: a large plain file is hashed on a
  // worker thread; the schema ids of both kinds of events (the wire headers) and of the announcement
  // are looked up, and the producer connects. Completed blocks wait in the parser until the hash and
  // the wire headers are known, so nothing is published with a wrong hash or schema id. Compressed
  // files are inspected first: their framing must be checked end to end before anything is published.
  // (The hand-written Avro encoding is checked byte for byte against avsc by the unit tests.)
  let hashing = plain && info.size >= (options.hashWhileScanningFrom ?? HASH_WHILE_SCANNING) ? settles(hashInWorker(file)) : undefined;
  const dry = options.dryRun;
  const serde = dry === undefined ? createSerde(config) : undefined;
  let wiring = serde === undefined ? undefined : settles(wireHeadersFor(serde));
  const producing =
    dry !== undefined ? undefined : settles(deps.producer !== undefined ? Promise.resolve(deps.producer) : openProducer(deps.kafka));
  const ownProducer = dry === undefined && deps.producer === undefined;
  const announcing = serde === undefined ? undefined : settles(serde.wireHeader(TOPICS.sourceDocuments));
  let inspected: FileInspection;
  try {
    inspected =
      hashing !== undefined
        ? { sha256: '', byteSize: info.size, compression: 'none' }
        : await inspectFile(file).catch((error: unknown) => {
            if (error instanceof InvalidInputError) throw new InvalidInputError(`${file}: ${error.message}`, { cause: error });
            throw error;
          });
  } catch (error) {
    if (ownProducer) await closeWhenOpen(producing);
    throw error;
  }
  let sha256 = inspected.sha256;
  let sourceId = sha256 === '' ? '' : `sha256:${sha256}`;
  const facts = { sha256, sourceId, lab: options.lab ?? null, ingestedAt: Date.now(), pipelineVersion: PIPELINE_VERSION };
  const pgx = pgxPositions();
  const parser = new VcfParser({ facts, mapping: options.mapping, pgx, wireHeaders: wiring === undefined ? undefined : 'later' });
  const topics = { calls: topicName(TOPICS.genotypeCalls, config.topicPrefix), block: topicName(TOPICS.variantBlocks, config.topicPrefix) };

  let producer: ProducerPort | undefined;
  let deadLetters: DeadLetterPublisher | undefined;
  const progress: Progress = { bytes: 0, totalBytes: inspected.byteSize, records: 0, calls: 0, events: 0 };
  let deadLettered = 0;
  /** ops.source-documents.v1: sent once every event is acknowledged. */
  let announcement: OutgoingRecord | undefined;
  let ready = hashing === undefined && wiring === undefined && producing === undefined;
  /** Waits for the hash, the wire headers and the producer; the blocks kept until then become events. */
  const prepare = async (): Promise<void> => {
    if (ready) return;
    if (hashing !== undefined) {
      const hashed = await hashing.promise;
      hashing = undefined;
      if (hashed.byteSize !== info.size) throw new InvalidInputError(`${file}: the file changed while it was read (${info.size} bytes, then ${hashed.byteSize})`);
      sha256 = hashed.sha256;
      sourceId = `sha256:${sha256}`;
      parser.resolveSha256(sha256, sourceId);
    }
    if (wiring !== undefined) {
      parser.resolveWireHeaders(await wiring.promise);
      wiring = undefined;
    }
    if (producing !== undefined && producer === undefined) {
      producer = await producing.promise;
      if (serde !== undefined) deadLetters = new DeadLetterPublisher(CONNECTOR, producer, serde, config.topicPrefix);
    }
    ready = true;
  };
  /** Whether prepare() would not wait. */
  const preparedBeside = (): boolean => (hashing?.settled ?? true) && (wiring?.settled ?? true) && (producing?.settled ?? true);
  // Built for dry runs only: compiling the Avro types costs ~30 ms that publishing does not need.
  const types = dry === undefined ? undefined : { calls: valueType(TOPICS.genotypeCalls), block: valueType(TOPICS.variantBlocks) };

  try {
    await withSpan(`${topics.block} publish`, { 'messaging.system': 'kafka', 'messaging.destination.name': topics.block, 'backbone.connector': CONNECTOR }, async () => {
      const headers = injectTraceHeaders({});
      const inFlight: Promise<void>[] = [];
      const batches = { calls: { records: [] as OutgoingRecord[], bytes: 0 }, block: { records: [] as OutgoingRecord[], bytes: 0 } };
      const send = async (kind: EncodedEvent['kind']): Promise<void> => {
        const batch = batches[kind];
        if (batch.records.length === 0 || producer === undefined) return;
        const sending = producer.send(topics[kind], batch.records);
        sending.catch(() => {});
        inFlight.push(sending);
        batches[kind] = { records: [], bytes: 0 };
        if (inFlight.length >= MAX_IN_FLIGHT) await inFlight.shift();
      };
      const deliver = async (events: EncodedEvent[], rejected: RejectedRecord[]): Promise<void> => {
        if (rejected.length > 0) {
          deadLettered += rejected.length;
          if (deadLetters !== undefined) {
            await deadLetters.publish(rejected.map((r) => ({ error: r.error, sourceRef: `${sourceId}#line=${r.line}`, originalValue: r.bytes })));
          } else for (const r of rejected) log.warn({ line: r.line, reason: r.error.message }, 'record rejected (dry run: not dead-lettered)');
        }
        for (const e of events) {
          if (dry !== undefined && types !== undefined) {
            const line = { topic: topics[e.kind], key: e.key, value: types[e.kind].fromBuffer(e.value) as unknown };
            if (!dry.write(`${JSON.stringify(line)}\n`)) await new Promise((r) => dry.once('drain', r));
            continue;
          }
          if (batches[e.kind].bytes + e.value.length > MAX_BATCH_BYTES) await send(e.kind);
          const batch = batches[e.kind];
          batch.records.push({ key: e.key, value: e.value, headers });
          batch.bytes += e.value.length + e.key.length + 64;
        }
      };
      let checkedSamples = false;
      for await (const chunk of readText(file, inspected.compression, (n) => (progress.bytes += n), inflation)) {
        parser.push(chunk);
        warmUpIfNeeded(parser.stats, pgx);
        if (!checkedSamples && parser.resolved !== undefined) {
          checkedSamples = true;
          const r = parser.resolved;
          if (r.unmapped.length === r.columns.length) {
            throw new InvalidInputError(`none of the ${r.columns.length} samples of the VCF is in the sample map, so nothing can be published`);
          }
        }
        if (!ready && (parser.bytesWaiting > MAX_WAITING_BYTES || preparedBeside())) await prepare();
        let out = parser.take();
        // A dead letter names its source: the hash must be known (the events then follow at once).
        if (!ready && out.rejected.length > 0) {
          await prepare();
          out = { events: parser.take().events, rejected: out.rejected };
        }
        await deliver(out.events, out.rejected);
        progress.records = parser.stats.records;
        progress.calls = parser.stats.calls;
        progress.events = parser.stats.events;
        options.onProgress?.(progress);
      }
      parser.end();
      await prepare();
      const out = parser.take();
      await deliver(out.events, out.rejected);
      await send('calls');
      await send('block');
      // The announcement is encoded while the last batches are acknowledged (the thread is idle then).
      if (producer !== undefined && serde !== undefined) {
        await announcing?.promise;
        const doc: SourceDocumentReceived = {
          eventId: sourceId.replace('sha256:', '').slice(0, 32),
          sourceId,
          sourceKind: 'VCF',
          sha256,
          byteSize: inspected.byteSize,
          mediaType: inspected.compression === 'none' ? 'text/x-vcf' : 'application/gzip',
          fileName: options.fileName === undefined ? path.basename(file) : options.fileName,
          lab: options.lab ?? null,
          submittedBy: options.submittedBy ?? null,
          receivedAt: facts.ingestedAt,
          connector: CONNECTOR,
          pipelineVersion: PIPELINE_VERSION,
          eventCount: parser.stats.events,
          deadLettered,
        };
        announcement = { key: doc.sourceId, value: await serde.encode(TOPICS.sourceDocuments, doc), headers: injectTraceHeaders({}) };
      }
      await Promise.all(inFlight);
    }, { kind: SpanKind.PRODUCER });
    if (producer !== undefined && announcement !== undefined) await producer.send(topicName(TOPICS.sourceDocuments, config.topicPrefix), [announcement]);
  } catch (error) {
    if (error instanceof InvalidInputError && !error.message.startsWith(file)) throw new InvalidInputError(`${file}: ${error.message}`, { cause: error });
    throw error;
  } finally {
    if (ownProducer) await closeWhenOpen(producing);
  }
  const s = parser.stats;
  const header = parser.header;
  progress.records = s.records;
  progress.calls = s.calls;
  progress.events = s.events;
  options.onProgress?.(progress);
  const summary: VcfSummary = {
    file,
    sha256,
    compression: inspected.compression,
    version: header?.version ?? '',
    assembly: header?.assembly ?? 'UNKNOWN',
    assemblyEvidence: header?.assemblyEvidence ?? '',
    samples: header?.samples.length ?? 0,
    unmappedSamples: parser.resolved?.unmapped ?? [],
    records: s.records,
    events: s.events,
    variantBlocks: s.blockEvents,
    calls: s.calls,
    nonRefCalls: s.nonRefCalls,
    deadLettered,
    skippedContigRecords: [...s.skippedContigs.values()].reduce((a, b) => a + b, 0),
    skippedContigs: Object.fromEntries(s.skippedContigs),
    recordsWithoutGenotypes: s.recordsWithoutGenotypes,
    pgx: s.pgx,
    seconds: (performance.now() - started) / 1000,
  };
  log.info(
    { sha256, records: s.records, events: s.events, calls: s.calls, deadLettered, assembly: summary.assembly, dryRun: dry !== undefined },
    'vcf published',
  );
  return summary;
}

/** A promise that says whether it has settled; a rejection is handled where the promise is awaited. */
interface Settling<T> {
  promise: Promise<T>;
  settled: boolean;
}

function settles<T>(promise: Promise<T>): Settling<T> {
  const s: Settling<T> = { promise, settled: false };
  promise.then(
    () => (s.settled = true),
    () => (s.settled = true),
  );
  return s;
}

async function openProducer(kafka: KafkaPort | undefined): Promise<ProducerPort> {
  if (kafka === undefined) throw new Error('publishVcf needs a Kafka port or a producer');
  return kafka.producer({ compression: 'lz4' });
}

/** Closes a producer this run opened, once its connection attempt is over (a failed one has nothing to close). */
async function closeWhenOpen(producing: Settling<ProducerPort> | undefined): Promise<void> {
  const producer = await producing?.promise.catch(() => undefined);
  await producer?.close();
}

/**
 * Copies a stream (stdin, an upload) into a private temporary file, so it can be hashed before
 * publishing and re-read; `limit` caps its size. The caller removes the directory.
 */
export async function spool(input: Readable, limit = Infinity): Promise<{ file: string; dir: string; bytes: number }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'backbone-vcf-'));
  const file = path.join(dir, 'upload');
  let bytes = 0;
  try {
    await pipeline(
      input,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          bytes += chunk.length;
          if (bytes > limit) throw new UploadTooLargeError(limit);
          yield chunk;
        }
      },
      createWriteStream(file, { mode: 0o600 }),
    );
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return { file, dir, bytes };
}

export class UploadTooLargeError extends InvalidInputError {
  constructor(readonly limit: number) {
    super(`the upload is larger than the limit of ${limit} bytes`);
  }
}
