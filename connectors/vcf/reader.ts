/**
 * Reading VCF bytes: plain text, gzip, or BGZF (bgzip). A first pass hashes the file and checks
 * the compression framing end to end, so a truncated or corrupt file is refused before any event is
 * published. The second pass streams the text; BGZF blocks are inflated on a worker thread, a batch
 * of consecutive blocks per call (gunzip also checks each block's CRC and size), and handed over in
 * order, so decompression overlaps with scanning.
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { createGunzip } from 'node:zlib';
import { InvalidInputError } from '../../platform/errors.ts';
import { fromRoot } from '../../platform/paths.ts';
import { isBgzfHeader } from './bgzf-header.mjs';

export type Compression = 'none' | 'gzip' | 'bgzf';

export interface FileInspection {
  sha256: string;
  byteSize: number;
  compression: Compression;
}

const READ_CHUNK = 1024 * 1024;

/** Follows BGZF block headers across chunks of a sequential read. */
export class BgzfWalker {
  private next = 0;
  private at = 0;
  private readonly head = Buffer.alloc(18);
  private filled = 0;
  private lastSize = 0;
  blocks = 0;

  feed(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.at < this.next) {
        const skip = Math.min(this.next - this.at, chunk.length - i);
        i += skip;
        this.at += skip;
        continue;
      }
      const take = Math.min(18 - this.filled, chunk.length - i);
      chunk.copy(this.head, this.filled, i, i + take);
      this.filled += take;
      i += take;
      this.at += take;
      if (this.filled === 18) {
        if (!isBgzfHeader(this.head)) {
          throw new InvalidInputError(`corrupt bgzip file: no BGZF block header at byte ${this.next} (a concatenation of gzip and bgzip data?)`);
        }
        this.lastSize = this.head.readUInt16LE(16) + 1;
        this.next += this.lastSize;
        this.filled = 0;
        this.blocks++;
      }
    }
  }

  finish(size: number): void {
    if (this.filled > 0 || this.next > size) throw new InvalidInputError(`truncated bgzip file: the last block (at byte ${this.next - this.lastSize}) needs bytes the file does not have (${size} bytes)`);
    if (this.lastSize !== 28) throw new InvalidInputError('truncated bgzip file: it does not end with the BGZF end-of-file block');
  }
}

/**
 * Files up to this size are read for inspection with blocking reads, which is several times quicker
 * than a stream's thread-pool round trips while the process is also connecting to Kafka. The event
 * loop gets a turn every BLOCKING_STRETCH bytes (~5 ms of reading and hashing from the page cache),
 * so an upload server or watcher doing this stays responsive.
 */
const BLOCKING_INSPECTION_BYTES = 32 * 1024 * 1024;
const BLOCKING_STRETCH = 4 * READ_CHUNK;

async function* inspectionChunks(file: string, blockingUpTo: number): AsyncGenerator<Buffer> {
  const fd = openSync(file, 'r');
  try {
    if (fstatSync(fd).size <= blockingUpTo) {
      yield* blockingChunks(fd, BLOCKING_STRETCH);
      return;
    }
  } finally {
    closeSync(fd);
  }
  yield* createReadStream(file, { highWaterMark: READ_CHUNK }) as AsyncIterable<Buffer>;
}

/**
 * The rest of an open file in READ_CHUNK chunks, read with blocking reads into fresh buffers (gunzip
 * and the scanner keep what they are given); the event loop gets a turn after every `stretch` bytes.
 */
async function* blockingChunks(fd: number, stretch: number): AsyncGenerator<Buffer> {
  for (let read = 0; ; ) {
    const chunk = Buffer.allocUnsafe(READ_CHUNK);
    const n = readSync(fd, chunk, 0, READ_CHUNK, null);
    if (n === 0) return;
    yield n === READ_CHUNK ? chunk : chunk.subarray(0, n);
    read += n;
    if (read % stretch < n) await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * Hashes the file and checks its compression framing: BGZF block chain and end-of-file block, or a
 * full test inflate of plain gzip. Empty files and corrupt compression are refused here.
 */
export async function inspectFile(file: string, blockingUpTo = BLOCKING_INSPECTION_BYTES): Promise<FileInspection> {
  const hash = createHash('sha256');
  let byteSize = 0;
  let compression: Compression | undefined;
  let walker: BgzfWalker | undefined;
  let gunzipCheck: Promise<void> | undefined;
  let gz: ReturnType<typeof createGunzip> | undefined;
  let gunzipFailed = false;
  for await (const chunk of inspectionChunks(file, blockingUpTo)) {
    if (compression === undefined) {
      if (chunk.length >= 2 && chunk[0] === 0x1f && chunk[1] === 0x8b) {
        compression = isBgzfHeader(chunk) ? 'bgzf' : 'gzip';
        if (compression === 'bgzf') walker = new BgzfWalker();
        else {
          gz = createGunzip();
          const g = gz;
          gunzipCheck = new Promise<void>((resolve, reject) => {
            g.on('data', () => {});
            g.on('end', resolve);
            g.on('error', (error) => {
              gunzipFailed = true;
              reject(error);
            });
          });
          gunzipCheck.catch(() => {});
        }
      } else compression = 'none';
    }
    hash.update(chunk);
    byteSize += chunk.length;
    walker?.feed(chunk);
    // A gunzip that failed never drains: its error ends the wait too (the check below reports it).
    if (gz !== undefined && !gz.write(chunk)) await Promise.race([once(gz, 'drain'), gunzipCheck]).catch(() => {});
    if (gunzipFailed) break;
  }
  if (byteSize === 0) throw new InvalidInputError('the file is empty');
  walker?.finish(byteSize);
  if (gz !== undefined && gunzipCheck !== undefined) {
    if (!gunzipFailed) gz.end();
    try {
      await gunzipCheck;
    } catch (error) {
      throw new InvalidInputError(`corrupt or truncated gzip file: ${(error as Error).message}`, { cause: error });
    }
  }
  return { sha256: hash.digest('hex'), byteSize, compression: compression ?? 'none' };
}

/**
 * The compression of a file, from its first bytes (the framing is checked by inspectFile). A
 * blocking read of 18 bytes: the promise-based open, read and close took ~15 ms of thread-pool
 * round trips at the start of every publish.
 */
export async function sniffCompression(file: string): Promise<Compression> {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(18);
    const n = readSync(fd, head, 0, 18, 0);
    if (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) return isBgzfHeader(head.subarray(0, n)) ? 'bgzf' : 'gzip';
    return 'none';
  } finally {
    closeSync(fd);
  }
}

/** The hashing worker: plain CommonJS, evaluated, so it needs no TypeScript loader and starts in ~30 ms. */
const HASH_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { createReadStream } = require('node:fs');
const hash = createHash('sha256');
let byteSize = 0;
createReadStream(workerData.file, { highWaterMark: 1 << 20 })
  .on('data', (chunk) => { hash.update(chunk); byteSize += chunk.length; })
  .on('error', (error) => parentPort.postMessage({ error: String((error && error.message) || error) }))
  .on('end', () => parentPort.postMessage({ sha256: hash.digest('hex'), byteSize }));
`;

/**
 * sha256 and size of a plain file, computed on a worker thread: hashing a large file is a pass over
 * all of it (~0.3 s per 250 MB), which the main thread would otherwise spend before scanning.
 */
export function hashInWorker(file: string): Promise<{ sha256: string; byteSize: number }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(HASH_WORKER, { eval: true, workerData: { file } });
    worker.once('message', (m: { sha256?: string; byteSize?: number; error?: string }) => {
      if (m.sha256 !== undefined && m.byteSize !== undefined) resolve({ sha256: m.sha256, byteSize: m.byteSize });
      else reject(new InvalidInputError(`${file}: cannot be read: ${m.error ?? 'unknown error'}`));
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the hashing worker exited with code ${code} before it answered`)));
  });
}

/** Progress of the second pass in bytes of the file as stored (compressed bytes for gzip). */
export type OnBytes = (storedBytes: number) => void;

/** The file's text, decompressed, in order; a BGZF file through `inflation` when one was started for it. */
export async function* readText(file: string, compression: Compression, onBytes: OnBytes = () => {}, inflation?: BgzfInflation): AsyncGenerator<Buffer> {
  if (compression === 'bgzf') {
    yield* (inflation ?? new BgzfInflation(file)).text(onBytes);
    return;
  }
  if (compression === 'none') {
    yield* readPlain(file, onBytes);
    return;
  }
  const stream = createReadStream(file, { highWaterMark: READ_CHUNK });
  stream.on('data', (chunk) => onBytes((chunk as Buffer).length));
  const gz = stream.pipe(createGunzip({ chunkSize: 1024 * 1024 }));
  stream.on('error', (error) => gz.destroy(error));
  try {
    for await (const chunk of gz) yield chunk as Buffer;
  } catch (error) {
    throw new InvalidInputError(`corrupt or truncated gzip file: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * A plain file in 1 MiB chunks, read with blocking reads; the event loop gets a turn after each
 * chunk (so acknowledgements and other requests are served, as between the chunks of a stream).
 * Why not a read stream: each of its chunks costs a thread-pool round trip and event-loop turns that,
 * measured, the scan did not hide, while a 1 MiB read from the page cache takes ~0.2 ms. The 100-sample
 * benchmark file published in a median 1.72 s instead of 1.82-1.86 s (5 interleaved runs each, twice);
 * for bgzip files (then read beside inflation on the thread pool) blocking reads made no difference.
 * (Reading every chunk into one reused buffer makes the reads themselves 2-3x quicker, no page
 * faults, yet the 100-sample publish took 1.86 instead of 1.79 s and the 1-sample one the same,
 * 8-12 interleaved runs each, so each chunk stays a fresh buffer.)
 */
async function* readPlain(file: string, onBytes: OnBytes): AsyncGenerator<Buffer> {
  const fd = openSync(file, 'r');
  try {
    for await (const chunk of blockingChunks(fd, READ_CHUNK)) {
      onBytes(chunk.length);
      yield chunk;
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Consecutive blocks inflated in one call (gunzip reads the gzip members of one input one after the
 * other, each checked).
 */
const BATCH_BLOCKS = 16;
/** Inflated batches that may wait for the scanner (~1 MB of text each). */
const BATCHES_AHEAD = 4;

/** From the worker (an `error` is about the file), or about the worker itself (`internal`). */
type InflationMessage = { text: ArrayBuffer; offset: number; length: number; stored: number } | { error: string; internal?: true } | { end: true };

/**
 * A BGZF file's text, inflated on a worker thread (bgzf-worker.mjs) in batches of consecutive
 * blocks that are handed over in order, their memory transferred. Start it as soon as the file is
 * known to be BGZF: the first batches are then ready when the scan begins.
 *
 * Why a worker rather than the thread pool's async gunzip: each async call costs the main thread
 * a stream, a thread-pool round trip and a callback per gzip member, and a copy to join the members'
 * output, ~0.45 ms per 16-block batch. The main thread is what limits a bgzip publish, so that was
 * ~100 ms of the 100-sample benchmark file; its scan alone (no Kafka) took a median 1.14 s instead
 * of 1.23 s this way (5 interleaved runs each), the 1-sample file's the same within noise.
 */
export class BgzfInflation {
  private readonly worker: Worker;
  private readonly waiting: InflationMessage[] = [];
  private wake: (() => void) | undefined;
  private reading = false;
  private closed = false;

  constructor(file: string) {
    this.worker = new Worker(fromRoot('connectors', 'vcf', 'bgzf-worker.mjs'), { workerData: { file, batchBlocks: BATCH_BLOCKS, ahead: BATCHES_AHEAD } });
    this.worker.on('message', (m: InflationMessage) => this.arrive(m));
    this.worker.on('error', (error) => this.arrive({ error: `the inflation worker failed: ${error.message}`, internal: true }));
    this.worker.on('exit', () => this.arrive({ error: 'the inflation worker stopped before the end of the file', internal: true }));
  }

  private arrive(m: InflationMessage): void {
    this.waiting.push(m);
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** The text in order, each chunk its own memory, once. Throws InvalidInputError for a corrupt or truncated file. */
  async *text(onBytes: OnBytes = () => {}): AsyncGenerator<Buffer> {
    if (this.reading || this.closed) throw new Error('a BGZF inflation is read once, before it is closed');
    this.reading = true;
    try {
      for (;;) {
        let m = this.waiting.shift();
        while (m === undefined) {
          await new Promise<void>((resolve) => (this.wake = resolve));
          m = this.waiting.shift();
        }
        if ('end' in m) return;
        if ('error' in m) throw m.internal === true ? new Error(m.error) : new InvalidInputError(m.error);
        this.worker.postMessage(1); // a credit: the worker may inflate one more batch
        onBytes(m.stored);
        if (m.length > 0) yield Buffer.from(m.text, m.offset, m.length);
      }
    } finally {
      await this.close();
    }
  }

  /** Stops the worker (at the end of the text, or when the file is refused before it is read). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}
