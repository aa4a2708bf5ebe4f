import kafkajs from 'kafkajs';
const { Kafka, logLevel, CompressionTypes, CompressionCodecs } = kafkajs as any;
import { gzip, constants } from 'node:zlib';
import { VcfParser } from './connectors/vcf/core.ts';
import { readText } from './connectors/vcf/reader.ts';
const level = Number(process.argv[3] ?? 1);
const mode = process.argv[4] ?? 'gzip';
CompressionCodecs[CompressionTypes.GZIP] = () => ({
  compress: (encoder: { buffer: Buffer }) => new Promise<Buffer>((res, rej) => gzip(encoder.buffer, { level, strategy: constants.Z_DEFAULT_STRATEGY }, (e, b) => (e ? rej(e) : res(b)))),
  decompress: async (b: Buffer) => b,
}) as never;
const kafka = new Kafka({ clientId: 'kb', brokers: ['127.0.0.1:9092'], logLevel: logLevel.WARN });
const admin = kafka.admin(); await admin.connect();
const topic = 'tmp-kgz-' + Date.now();
await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true });
const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
await p.connect();
const parser = new VcfParser({ facts: { sha256: 'a'.repeat(64), sourceId: 'x', lab: null, ingestedAt: 1, pipelineVersion: '0.1.0' }, mapping: { kind: 'keyed-hash', key: 'k' }, wireHeader: Buffer.alloc(5) });
const t0 = performance.now();
const inflight: Promise<unknown>[] = [];
let batch: { key: string; value: Buffer }[] = []; let bytes = 0;
const maxBytes = Number(process.argv[5] ?? 900e3);
const flush = async () => { if (!batch.length) return; const pr = p.send({ topic, acks: -1, compression: mode === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None, messages: batch }); pr.catch(() => {}); inflight.push(pr); batch = []; bytes = 0; if (inflight.length >= 4) await inflight.shift(); };
for await (const chunk of readText(process.argv[2]!, 'none')) {
  parser.push(chunk);
  for (const e of parser.take().events) { if (bytes + e.value.length > maxBytes) await flush(); batch.push({ key: e.key, value: e.value }); bytes += e.value.length; }
}
parser.end(); for (const e of parser.take().events) { batch.push({ key: e.key, value: e.value }); }
await flush(); await Promise.all(inflight);
console.log(`${mode} level ${level} batch ${maxBytes}: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
await p.disconnect(); await admin.deleteTopics({ topics: [topic] }); await admin.disconnect();
