/**
 * LZ4 for Kafka record batches (the frame format Kafka uses), through a native codec from the npm
 * registry. Genotype events repeat site fields per call and compress several-fold, which cuts the
 * bytes kafkajs must checksum and send; any Kafka client can read LZ4 batches.
 */
import './crc32c.ts'; // before kafkajs: see the module
import kafkajs from 'kafkajs';
import { compressFrameSync, decompressFrameSync } from 'lz4-napi';

let registered = false;

/** Registers the codec with kafkajs once per process (consumers need it to read LZ4 batches too). */
export function registerLz4(): void {
  if (registered) return;
  registered = true;
  // kafkajs is CommonJS and its codec table is not a named ESM export.
  kafkajs.CompressionCodecs[kafkajs.CompressionTypes.LZ4] = () => ({
    // Synchronous on purpose: a batch compresses in microseconds to a few milliseconds, while a hop
    // to the thread pool and back costs more than that on small, latency-sensitive batches. (Bulk
    // batches on the thread pool were measured too: the VCF benchmark got slower, 5.6 -> 7.4 s, as
    // compression then competes with the broker for the second core.)
    compress: (encoder: { buffer: Buffer }) => Promise.resolve(compressFrameSync(encoder.buffer)),
    decompress: (buffer: Buffer) => Promise.resolve(decompressFrameSync(buffer)),
  });
}
