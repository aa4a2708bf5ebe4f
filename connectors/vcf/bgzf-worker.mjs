// @ts-check
/**
 * BGZF inflation on a worker thread (see BgzfInflation in reader.ts). Plain JavaScript, loaded from
 * the source tree whether the CLI runs from the TypeScript sources or from .build/, so it needs no
 * loader and starts in a few milliseconds.
 *
 * Reads the file in order, cuts whole blocks into batches of consecutive blocks, inflates each batch
 * with one synchronous gunzip (which checks every block's CRC and size) and posts its text, the
 * memory transferred, never copied. Besides the batch being scanned, at most `ahead` wait for the
 * reader: it sends one credit per batch it takes. Messages: { text, offset, length, stored } | { error } | { end: true }.
 */
import { Buffer } from 'node:buffer';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort as port, workerData } from 'node:worker_threads';
import { gunzipSync } from 'node:zlib';
import { isBgzfHeader } from './bgzf-header.mjs';

// eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- typed by the cast, which tsc checks (@ts-check)
const { file, batchBlocks, ahead } = /** @type {{ file: string; batchBlocks: number; ahead: number }} */ (workerData);
if (port === null) throw new Error('bgzf-worker.mjs runs as a worker thread');
const parentPort = port;
const READ_CHUNK = 1024 * 1024;
/** A block's text is at most 64 KiB; a corrupt ISIZE trailer must not size an output buffer. */
const BLOCK_TEXT = 64 * 1024;

let credits = ahead;
/** @type {(() => void) | undefined} */
let wake;
parentPort.on('message', () => {
  credits++;
  if (wake !== undefined) {
    const w = wake;
    wake = undefined;
    w();
  }
});

/**
 * @param {Buffer} text
 * @param {number} stored bytes of the file the text came from
 */
function post(text, stored) {
  // Buffers above the pool's size own their memory, which can then be handed over as it is; a small
  // one may sit in the shared pool and is copied out first.
  const own = text.buffer.byteLength > Buffer.poolSize;
  const memory = /** @type {ArrayBuffer} */ (own ? text.buffer : text.buffer.slice(text.byteOffset, text.byteOffset + text.length));
  parentPort.postMessage({ text: memory, offset: own ? text.byteOffset : 0, length: text.length, stored }, [memory]);
}

async function main() {
  const fd = openSync(file, 'r');
  try {
    // One input buffer, read into again and again: what is left of a read (fewer than a batch of
    // whole blocks, each at most 64 KiB) moves to its start, the next read fills the rest. With a
    // fresh buffer per read, the 100-sample bgzip publish peaked at 188-196 MB instead of 160-168 MB.
    const input = Buffer.allocUnsafe(batchBlocks * 65536 + READ_CHUNK);
    let start = 0;
    let end = 0;
    let offset = 0; // file offset of input[start]
    let eof = false;
    for (;;) {
      const buf = input.subarray(start, end);
      let p = 0;
      let blocks = 0;
      let text = 0;
      let isizes = 0;
      let alien = false;
      while (blocks < batchBlocks && buf.length - p >= 18) {
        if (!isBgzfHeader(buf, p)) {
          // The blocks before it are inflated first: their text is read, then this error.
          if (blocks === 0) throw new Error(`corrupt bgzip file: no BGZF block header at byte ${offset + p}`);
          alien = true;
          break;
        }
        const size = buf.readUInt16LE(p + 16) + 1;
        if (size < 28) throw new Error(`corrupt bgzip file: the block at byte ${offset + p} says it is ${size} bytes, fewer than a BGZF block has`);
        if (buf.length - p < size) break;
        const isize = buf.readUInt32LE(p + size - 4);
        text += Math.min(isize, BLOCK_TEXT);
        isizes += isize;
        p += size;
        blocks++;
      }
      if (blocks < batchBlocks && !eof && !alien) {
        input.copyWithin(0, start, end);
        end -= start;
        start = 0;
        const n = readSync(fd, input, end, Math.min(READ_CHUNK, input.length - end), null);
        if (n === 0) eof = true;
        end += n;
        continue;
      }
      if (blocks === 0) {
        if (buf.length > 0) throw new Error(`truncated bgzip file: ${buf.length} bytes after the last whole block`);
        return;
      }
      while (credits === 0) await /** @type {Promise<void>} */ (new Promise((resolve) => (wake = resolve)));
      credits--;
      const batch = buf.subarray(0, p);
      let out;
      try {
        out = gunzipSync(batch, { chunkSize: text + 64 });
      } catch {
        out = undefined;
      }
      // gunzip stops without an error at bytes that are not a gzip member, dropping the blocks after
      // them; each block's ISIZE, at the end of the bytes BSIZE gives it, says how much text it holds.
      if (out === undefined || out.length !== isizes) {
        // Block by block: the text before the corrupt block is read, then its error is the one reported.
        for (let q = 0; q < p; ) {
          const size = batch.readUInt16LE(q + 16) + 1;
          const at = `corrupt bgzip block at byte ${offset + q}`;
          let blockText;
          try {
            blockText = gunzipSync(batch.subarray(q, q + size), { chunkSize: BLOCK_TEXT + 64 });
          } catch (error) {
            throw new Error(`${at}: ${error instanceof Error ? error.message : String(error)}`);
          }
          const isize = batch.readUInt32LE(q + size - 4);
          if (blockText.length !== isize) throw new Error(`${at}: it inflates to ${blockText.length} bytes, its BGZF trailer says ${isize}`);
          post(blockText, size);
          q += size;
        }
        throw new Error('corrupt bgzip batch: its blocks inflate one by one but not together');
      }
      post(out, p);
      start += p;
      offset += p;
    }
  } finally {
    closeSync(fd);
  }
}

main().then(
  () => parentPort.postMessage({ end: true }),
  (error) => parentPort.postMessage({ error: error instanceof Error ? error.message : String(error) }),
);
