/**
 * kafkajs checksums every record batch it produces with CRC-32C written in JavaScript, one byte
 * per table lookup; for bulk publishing (the VCF connector's hundreds of MB) that was ~7 % of the
 * main thread. This swaps in a native CRC-32C (SSE4.2/ARM CRC instructions, from npm) by placing it
 * in the CommonJS module cache under kafkajs' own module path, before kafkajs loads that module.
 * kafkajs is pinned, and a unit test checks that its record batches carry the checksum we compute.
 *
 * Must be imported before anything imports 'kafkajs' (first import of every module that does).
 */
import { createRequire, Module } from 'node:module';

const require = createRequire(import.meta.url);
const CRC_MODULE = require.resolve('kafkajs/src/protocol/recordBatch/crc32C/index.js');
const BATCH_MODULE = require.resolve('kafkajs/src/protocol/recordBatch/v0/index.js');

/** The native function, or undefined where its prebuilt binary is missing (kafkajs' own is used). */
const native = ((): ((input: Buffer) => number) | undefined => {
  try {
    return (require('@node-rs/crc32') as { crc32c: (input: Buffer) => number }).crc32c;
  } catch {
    return undefined;
  }
})();

/** kafkajs' contract: the CRC as an unsigned 32-bit number. */
export const nativeCrc32c = (buffer: Buffer): number => (native as (input: Buffer) => number)(buffer) >>> 0;

function install(): boolean {
  if (native === undefined) return false;
  const cache = require.cache;
  if (cache[CRC_MODULE]?.exports === nativeCrc32c) return true;
  // Too late once kafkajs' record batch module has captured its own checksum function.
  if (cache[BATCH_MODULE] !== undefined) return false;
  const m = new Module(CRC_MODULE);
  m.filename = CRC_MODULE;
  m.loaded = true;
  m.exports = nativeCrc32c;
  cache[CRC_MODULE] = m;
  return true;
}

/** Whether kafkajs uses the native checksum in this process (only ever slower when false, never wrong). */
export const nativeCrcInstalled = install();
