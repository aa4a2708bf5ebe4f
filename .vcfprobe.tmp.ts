import { VcfParser } from './connectors/vcf/core.ts';
import { pgxPositions } from './connectors/vcf/pgx-positions.ts';
import { inspectFile, readText } from './connectors/vcf/reader.ts';
const file = process.argv[2]!;
let t = performance.now();
const ins = await inspectFile(file);
const tHash = performance.now() - t;
t = performance.now();
const p = new VcfParser({ facts: { sha256: ins.sha256, sourceId: 'x', lab: null, ingestedAt: 1, pipelineVersion: '0.1.0' }, mapping: { kind: 'keyed-hash', key: 'k' }, pgx: pgxPositions(), wireHeader: Buffer.alloc(5) });
let bytes = 0; let events = 0;
let tRead = 0;
for await (const chunk of readText(file, ins.compression)) { p.push(chunk); const o = p.take(); for (const e of o.events) { bytes += e.value.length; events++; } }
p.end(); for (const e of p.take().events) { bytes += e.value.length; events++; }
console.log(`hash ${tHash.toFixed(0)} ms, parse+encode ${(performance.now() - t).toFixed(0)} ms, events ${events}, bytes ${(bytes/1e6).toFixed(1)} MB, calls ${p.stats.calls} (${(bytes/p.stats.calls).toFixed(1)} B/call)`);
