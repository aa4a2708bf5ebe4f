import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { createKafka } from '../../platform/kafka/kafkajs.ts';
import { nativeCrc32c, nativeCrcInstalled } from '../../platform/kafka/crc32c.ts';

const require = createRequire(import.meta.url);

describe('native CRC-32C for kafkajs record batches', () => {
  it('is the checksum kafkajs record batches use, and agrees with kafkajs own implementation', async () => {
    expect(typeof createKafka).toBe('function'); // platform/kafka/kafkajs.ts (and so kafkajs) is loaded
    expect(nativeCrcInstalled).toBe(true);
    expect(require('kafkajs/src/protocol/recordBatch/crc32C/index.js')).toBe(nativeCrc32c);
    // The standard check value of CRC-32C, then kafkajs' JavaScript table version on varied input.
    expect(nativeCrc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    const js = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (b: Buffer) => number;
    for (const size of [0, 1, 7, 64, 1000, 65_537]) {
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i++) data[i] = (i * 31 + size) & 0xff;
      expect(nativeCrc32c(data)).toBe(js(data) >>> 0);
    }
    // A record batch encoded by kafkajs carries our checksum over its body (from attributes on).
    const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as { RecordBatch: (o: object) => Promise<{ buffer: Buffer }> };
    const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (o: object) => unknown;
    const batch = await RecordBatch({ records: [Record({ key: Buffer.from('k'), value: Buffer.from('a genotype event') })] });
    const bytes = batch.buffer;
    // firstOffset(8) length(4) partitionLeaderEpoch(4) magic(1) crc(4) then the checksummed body.
    expect(bytes.readUInt32BE(17)).toBe(nativeCrc32c(bytes.subarray(21)));
  });
});
