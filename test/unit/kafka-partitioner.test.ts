import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { javaCompatiblePartitioner, murmur2 } from '../../platform/kafka/partitioner.ts';

// kafkajs' own (64-bit Long) implementation, the reference the fast one must match bit for bit.
const kafkajsMurmur2 = createRequire(import.meta.url)('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer | string) => number;

const metadata = (n: number, down: number[] = []): PartitionMetadata[] =>
  Array.from({ length: n }, (_, partitionId) => ({ partitionId, leader: down.includes(partitionId) ? -1 : 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));

describe('java-compatible partitioner', () => {
  it('hashes as the Java client does (values from its test suite)', () => {
    const cases: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of cases) expect(murmur2(Buffer.from(key)), key).toBe(hash);
  });

  it('matches kafkajs murmur2 on every length and on UTF-8 keys', () => {
    for (let length = 0; length < 300; length++) {
      for (let i = 0; i < 5; i++) {
        const key = randomBytes(length);
        expect(murmur2(key)).toBe(kafkajsMurmur2(key));
      }
    }
    for (const key of ['PT-00001', 'PT-00001|CYP2C19', 'patient-é-ü-漢字-🧬', '']) expect(murmur2(Buffer.from(key))).toBe(kafkajsMurmur2(key));
  });

  it('picks the same partitions as kafkajs DefaultPartitioner for keyed records, and honours a given partition', () => {
    const ours = javaCompatiblePartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    for (const n of [1, 3, 7, 12]) {
      for (let i = 0; i < 500; i++) {
        const key = i % 2 === 0 ? `PT-${randomBytes(6).toString('hex')}` : randomBytes(20);
        const args = { topic: 't', partitionMetadata: metadata(n, [0]), message: { key, value: null } };
        expect(ours(args)).toBe(theirs(args));
      }
    }
    expect(ours({ topic: 't', partitionMetadata: metadata(3), message: { key: 'x', value: null, partition: 2 } })).toBe(2);
  });

  it('spreads records without a key over the partitions that have a leader', () => {
    const ours = javaCompatiblePartitioner();
    const seen = new Set<number>();
    for (let i = 0; i < 30; i++) seen.add(ours({ topic: 't', partitionMetadata: metadata(4, [1]), message: { key: null, value: null } }));
    expect([...seen].sort()).toEqual([0, 2, 3]);
  });
});
