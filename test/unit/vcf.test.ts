import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { TOPICS } from '../../platform/catalogue.ts';
import { valueType } from '../../platform/conform.ts';
import { InvalidInputError } from '../../platform/errors.ts';
import { blockCalls, type GenotypeCall, type GenotypeCallSet, type VariantBlock } from '../../platform/events.ts';
import { writeLong } from '../../connectors/vcf/avro.ts';
import { BLOCK_BYTES, VcfParser, type EncodedEvent, type FileFacts, type RejectedRecord } from '../../connectors/vcf/core.ts';
import { detectAssembly, normaliseChrom } from '../../connectors/vcf/harmonise.ts';
import { pgxPositions } from '../../connectors/vcf/pgx-positions.ts';
import { grouped } from '../../connectors/vcf/progress.ts';
import { BgzfInflation, hashInWorker, inspectFile, readText, sniffCompression } from '../../connectors/vcf/reader.ts';
import { referenceCalls } from '../../connectors/vcf/reference.ts';
import { parseSampleMap, resolveSamples, type SampleMapping } from '../../connectors/vcf/samples.ts';
import { authenticate, publishers } from '../../connectors/vcf/serve.ts';
import { scanWarmUp, warmUpVcf } from '../../connectors/vcf/warm-up.ts';
import { BGZF_EOF, bgzfBlock, prng, header as syntheticHeader, records as syntheticRecords } from '../../bench/vcf-generate.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/vcf/', import.meta.url));
const fixture = (name: string): Buffer => readFileSync(path.join(FIXTURES, name));
const FACTS: FileFacts = { sha256: 'f'.repeat(64), sourceId: 'sha256:test', lab: 'Lab Nord', ingestedAt: 1735689600000, pipelineVersion: '0.1.0' };
const HASHED: SampleMapping = { kind: 'keyed-hash', key: 'unit-test-key' };
const types = { calls: valueType(TOPICS.genotypeCalls), block: valueType(TOPICS.variantBlocks) };

interface Parsed {
  parser: VcfParser;
  /** Per-patient events, with each variant block split into one per sample (its calls in site order). */
  events: GenotypeCallSet[];
  /** What the parser produced, as produced: both kinds, bodies and decoded values. */
  produced: { kind: EncodedEvent['kind']; eventId: string; key: string; body: Buffer; value: GenotypeCallSet | VariantBlock }[];
  blocks: VariantBlock[];
  rejected: RejectedRecord[];
}

/** A variant block as per-sample call sets, so assertions can treat both kinds of events alike. */
function perSample(block: VariantBlock): GenotypeCallSet[] {
  const bySample = new Map<number, GenotypeCallSet>();
  for (const { sample, call } of blockCalls(block)) {
    let set = bySample.get(sample.column);
    if (set === undefined) {
      set = { eventId: block.eventId, patientId: sample.patientId, sampleId: sample.sampleId, sourceKind: block.sourceKind, assembly: block.assembly, calls: [], lineage: block.lineage };
      bySample.set(sample.column, set);
    }
    set.calls.push(call);
  }
  return [...bySample.entries()].sort(([a], [b]) => a - b).map(([, set]) => set);
}

function parse(
  bytes: Buffer,
  options: { mapping?: SampleMapping; chunk?: number; blockLines?: number; blockCalls?: number; pgx?: boolean; sha256?: string; fastPath?: boolean; maxPushBytes?: number } = {},
): Parsed {
  const parser = new VcfParser({
    facts: { ...FACTS, sha256: options.sha256 ?? FACTS.sha256 },
    mapping: options.mapping ?? HASHED,
    ...(options.pgx === false ? {} : { pgx: pgxPositions() }),
    ...(options.blockLines === undefined ? {} : { blockLines: options.blockLines }),
    ...(options.blockCalls === undefined ? {} : { blockCalls: options.blockCalls }),
    ...(options.fastPath === undefined ? {} : { fastPath: options.fastPath }),
    ...(options.maxPushBytes === undefined ? {} : { maxPushBytes: options.maxPushBytes }),
  });
  const encoded: EncodedEvent[] = [];
  const rejected: RejectedRecord[] = [];
  const step = options.chunk ?? bytes.length;
  // Each chunk is given in the same buffer, scribbled over after the push: the scanner must copy
  // what it keeps of a chunk (a reader may reuse its memory), and anything it kept uncopied would show.
  const scratch = Buffer.alloc(step);
  for (let i = 0; i < bytes.length; i += step) {
    parser.push(scratch.subarray(0, bytes.copy(scratch, 0, i, i + step)));
    const out = parser.take();
    scratch.fill(0x58);
    encoded.push(...out.events);
    rejected.push(...out.rejected);
  }
  parser.end();
  const out = parser.take();
  encoded.push(...out.events);
  rejected.push(...out.rejected);
  const produced = encoded.map((e) => ({ kind: e.kind, eventId: e.eventId, key: e.key, body: e.value, value: types[e.kind].fromBuffer(e.value) as GenotypeCallSet | VariantBlock }));
  const events = produced.flatMap((p) => (p.kind === 'block' ? perSample(p.value as VariantBlock) : [p.value as GenotypeCallSet]));
  const blocks = produced.filter((p) => p.kind === 'block').map((p) => p.value as VariantBlock);
  return { parser, produced, blocks, rejected, events };
}

/**
 * One seeded damage to a line: a byte replaced, dropped or added (one of `chars`), the line cut short,
 * or (with `columns`) a tab-separated column doubled or dropped.
 */
function damageLine(line: string, rand: () => number, chars: readonly string[], columns: boolean): string {
  const at = Math.floor(rand() * line.length);
  const char = chars[Math.floor(rand() * chars.length)] as string;
  const how = Math.floor(rand() * (columns ? 6 : 4));
  if (how === 0) return line.slice(0, at) + char + line.slice(at + 1);
  if (how === 1) return line.slice(0, at) + line.slice(at + 1);
  if (how === 2) return line.slice(0, at) + char + line.slice(at);
  if (how === 3) return line.slice(0, at);
  const cols = line.split('\t');
  const c = Math.floor(rand() * cols.length);
  return (how === 4 ? [...cols.slice(0, c + 1), ...cols.slice(c)] : [...cols.slice(0, c), ...cols.slice(c + 1)]).join('\t');
}

function findCall(events: GenotypeCallSet[], patientId: string, chrom: string, pos: number): GenotypeCall | undefined {
  return events.filter((e) => e.patientId === patientId).flatMap((e) => e.calls).find((c) => c.chrom === chrom && c.pos === pos);
}

/** A synthetic VCF of the benchmark's generator. */
const synthetic = (records: number, samples: number, seed: number): Buffer =>
  Buffer.from(syntheticHeader(samples) + [...syntheticRecords({ records, samples, seed })].join(''));

const MAP = parseSampleMap(fixture('samples.tsv').toString('utf8'));

describe('harmonisation', () => {
  it('normalises chromosome names and refuses contigs outside 1-22/X/Y/MT', () => {
    expect(['chr1', 'Chr22', 'CHRX', 'chrY', 'chrM', 'MT', 'M', '7', 'x'].map(normaliseChrom)).toEqual(['1', '22', 'X', 'Y', 'MT', 'MT', 'MT', '7', 'X']);
    expect(['chrUn_KI270742v1', 'GL000192.1', 'chr1_KI270706v1_random', 'HLA-A*01:01', 'chrEBV', '23', 'chr0', '01'].map(normaliseChrom)).toEqual(
      Array(8).fill(undefined),
    );
  });

  it('detects the build from ##contig lengths, ##assembly and ##reference, and says UNKNOWN otherwise', () => {
    expect(detectAssembly({ contigs: [{ id: 'chr1', length: 248956422 }] }).assembly).toBe('GRCh38');
    expect(detectAssembly({ contigs: [{ id: '1', length: 249250621 }] }).assembly).toBe('GRCh37');
    expect(detectAssembly({ contigs: [], reference: 'file:///ref/hs37d5.fa' }).assembly).toBe('GRCh37');
    expect(detectAssembly({ contigs: [], assembly: 'GRCh38.p14' }).assembly).toBe('GRCh38');
    expect(detectAssembly({ contigs: [], reference: 'file:///ref/genome.fa' })).toMatchObject({ assembly: 'UNKNOWN' });
    const contradiction = detectAssembly({ contigs: [{ id: 'chr1', length: 248956422 }], reference: 'hg19' });
    expect(contradiction.assembly).toBe('UNKNOWN');
    expect(contradiction.evidence).toMatch(/contradicts/);
    expect(detectAssembly({ contigs: [], reference: 'chm13v2.0.fa' })).toMatchObject({ assembly: 'UNKNOWN', evidence: expect.stringMatching(/other than/) as unknown });
  });

  it('carries the detected build on every event of each fixture', () => {
    const cases: [string, string][] = [
      ['multisample-grch38.vcf', 'GRCh38'],
      ['grch37-v41.vcf', 'GRCh37'],
      ['v43-crlf.vcf', 'GRCh38'],
      ['unknown-build.vcf', 'UNKNOWN'],
      ['pgx-cases/UGT1A1_s28s80phased.vcf', 'GRCh38'],
      ['pgx-cases/CYP3A5_s1s7.vcf', 'GRCh38'],
    ];
    for (const [name, assembly] of cases) {
      const { events } = parse(fixture(name));
      expect(events.length, name).toBeGreaterThan(0);
      for (const e of events) expect(e.assembly, name).toBe(assembly);
    }
  });
});

describe('VCF mapping on a multi-sample GRCh38 file', () => {
  const { events, produced, rejected, parser } = parse(fixture('multisample-grch38.vcf'), { mapping: MAP });

  it('keys events by the mapped pseudonymous patient and reports the unmapped sample', () => {
    expect(new Set(events.map((e) => e.patientId))).toEqual(new Set(['PT-000101', 'PT-000102', 'PT-000103']));
    expect(parser.resolved?.unmapped).toEqual(['HG00096']);
    expect(parser.stats.unmappedCalls).toBeGreaterThan(0);
    const sampleIds = new Set(events.map((e) => e.sampleId));
    expect(sampleIds.has('SM-9001')).toBe(true);
    expect([...sampleIds].some((s) => s.includes('NA1289'))).toBe(false);
  });

  it('publishes non-reference calls losslessly: multi-allelic, phased with PS, haploid, chrM as MT', () => {
    expect(findCall(events, 'PT-000101', '1', 97515787)).toMatchObject({ ref: 'A', alts: ['AT', 'ATT'], gt: [1, 2], phased: false, depth: 29, genotypeQuality: 78, quality: 310.8 });
    expect(findCall(events, 'PT-000101', '7', 99672916)).toMatchObject({ gt: [1, 1], phased: true, phaseSet: 99672916, variantId: 'rs776746' });
    expect(findCall(events, 'PT-000103', '7', 99672916)).toMatchObject({ gt: [1, 1], phased: false, phaseSet: null });
    expect(findCall(events, 'PT-000102', 'X', 155000120)).toMatchObject({ gt: [1], phased: false });
    expect(findCall(events, 'PT-000102', 'Y', 2781480)).toMatchObject({ gt: [1] });
    expect(findCall(events, 'PT-000102', 'MT', 73)).toMatchObject({ gt: [1], depth: 1987 });
    expect(findCall(events, 'PT-000101', '12', 21178615)).toMatchObject({ gt: [0, 1], filters: ['PASS'], recordRef: '35' });
  });

  it('keeps hom-ref, partial and no-call genotypes at PGx positions only', () => {
    expect(findCall(events, 'PT-000102', '10', 94781859)).toMatchObject({ gt: [0, 0], variantId: 'rs4244285' });
    expect(findCall(events, 'PT-000103', '10', 94781859)).toMatchObject({ gt: [0, null], depth: 20, genotypeQuality: 12 });
    expect(findCall(events, 'PT-000102', '10', 94942290)).toMatchObject({ gt: [null, null], quality: null, filters: ['LowQual', 'LowDP'], depth: 0, genotypeQuality: null });
    // chrX PGx position: haploid hom-ref kept for the male sample too
    expect(findCall(events, 'PT-000102', 'X', 154532046)).toMatchObject({ gt: [1] });
    expect(findCall(events, 'PT-000103', 'X', 154532046)).toMatchObject({ gt: [0, 0] });
    expect(findCall(events, 'PT-000103', '1', 97515787)).toMatchObject({ gt: [0, 0], alts: ['AT', 'ATT'] });
    // not a PGx position: hom-ref is not published
    expect(findCall(events, 'PT-000101', 'X', 155000120)).toBeUndefined();
    expect(findCall(events, 'PT-000103', '12', 21178615)).toMatchObject({ gt: [0, 0] });
    expect(parser.stats.pgx).toMatchObject({ active: true, covered: 9, total: 1202 });
  });

  it('dead-letters what it cannot represent, with line numbers and reasons, and goes on', () => {
    const reasons = Object.fromEntries(rejected.map((r) => [r.line, r.error.message]));
    expect(Object.keys(reasons).map(Number)).toEqual([37, 38, 44, 45, 46]);
    expect(reasons[37]).toMatch(/^line 37: symbolic structural allele <DEL>/);
    expect(reasons[38]).toMatch(/^line 38: breakend allele/);
    expect(reasons[44]).toMatch(/^line 44: sample column 1: GT '0\/3' names allele 3, but the record has 1 ALT allele/);
    expect(reasons[45]).toMatch(/^line 45: POS '21300x00' is not a position/);
    expect(reasons[46]).toMatch(/^line 46: found 3 sample columns, the header names 4/);
    for (const r of rejected) expect(r.bytes.toString()).toBe(fixture('multisample-grch38.vcf').toString().split('\n')[r.line - 1]);
    expect([...parser.stats.skippedContigs]).toEqual([['chrUn_KI270742v1', 1]]);
    // nothing published from the rejected records
    expect(findCall(events, 'PT-000101', '16', 31100000)).toBeUndefined();
    expect(findCall(events, 'PT-000101', '12', 21200000)).toBeUndefined();
  });

  it('gives every event lineage and a deterministic id', () => {
    for (const e of events) {
      expect(e.lineage).toEqual({ sourceId: 'sha256:test', sourceSha256: 'f'.repeat(64), lab: 'Lab Nord', ingestedAt: FACTS.ingestedAt, connector: 'vcf', pipelineVersion: '0.1.0' });
      expect(e.sourceKind).toBe('VCF');
      for (const c of e.calls) expect(c.recordRef).toMatch(/^\d+$/);
    }
    const ids = produced.map((e) => e.eventId);
    expect(new Set(ids).size).toBe(ids.length);
    const again = parse(fixture('multisample-grch38.vcf'), { mapping: MAP, chunk: 7 });
    expect(again.produced.map((e) => e.eventId)).toEqual(ids);
    const otherFile = parse(fixture('multisample-grch38.vcf'), { mapping: MAP, sha256: 'e'.repeat(64) });
    expect(otherFile.produced.some((e) => ids.includes(e.eventId))).toBe(false);
  });

  it('groups calls per sample and block; smaller blocks give more events but the same calls', () => {
    const small = parse(fixture('multisample-grch38.vcf'), { mapping: MAP, blockLines: 2 });
    expect(small.events.length).toBeGreaterThan(events.length);
    const flat = (list: GenotypeCallSet[]): string[] => list.flatMap((e) => e.calls.map((c) => `${e.patientId}:${c.chrom}:${c.pos}:${c.gt.join('/')}`)).sort();
    expect(flat(small.events)).toEqual(flat(events));
    for (const e of events) {
      expect(new Set(e.calls.map((c) => c.chrom)).size).toBe(1);
      const positions = e.calls.map((c) => c.pos);
      expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    }
  });
});

describe('VCF mapping agrees with the @gmod/vcf reference path', () => {
  const thirty = synthetic(2500, 30, 11);
  const inputs: [string, Buffer][] = [
    ['multisample-grch38.vcf', fixture('multisample-grch38.vcf')],
    ['grch37-v41.vcf', fixture('grch37-v41.vcf')],
    ['v43-crlf.vcf', fixture('v43-crlf.vcf')],
    ['unknown-build.vcf', fixture('unknown-build.vcf')],
    ['synthetic 2,500 records x 30 samples', thirty],
    ...readdirSync(path.join(FIXTURES, 'pgx-cases'))
      .filter((f) => f.endsWith('.vcf'))
      .map((f): [string, Buffer] => [`pgx-cases/${f}`, fixture(`pgx-cases/${f}`)]),
  ];
  /** The scanner and the reference path reject the same lines and publish the same calls. */
  const expectAgreement = (bytes: Buffer): Parsed => {
    const ours = parse(bytes, { chunk: 4093 });
    const reference = referenceCalls(bytes.toString('latin1'), pgxPositions());
    expect(ours.rejected.map((r) => r.line)).toEqual(reference.rejectedLines);
    const columns = ours.parser.resolved?.columns ?? [];
    const bySampleId = new Map(columns.map((c, i) => [c?.sampleId, i]));
    const mine = ours.events.flatMap((e) => e.calls.map((c) => ({ column: bySampleId.get(e.sampleId), call: { ...c, gene: undefined } })));
    const theirs = reference.calls.map((r) => ({ column: r.column, call: { ...r.call, gene: undefined } }));
    const key = (x: { column?: number; call: { pos: number; chrom: string } }): string => `${x.column}:${x.call.chrom}:${String(x.call.pos).padStart(10, '0')}`;
    mine.sort((a, b) => key(a).localeCompare(key(b)));
    theirs.sort((a, b) => key(a).localeCompare(key(b)));
    expect(mine.length).toBe(theirs.length);
    expect(mine).toEqual(theirs);
    return ours;
  };
  it.each(inputs)('%s', (_name, bytes) => {
    expectAgreement(bytes);
  });

  it('on damaged records too: each is dead-lettered with its line, or read as the reference reads it, and the file goes on', () => {
    // Real records damaged the ways files get damaged: a byte replaced, dropped or added (tabs,
    // separators, digits, '\r'), a line cut short, a column doubled or lost. Seeded, so a failure
    // can be replayed.
    const bases = [fixture('multisample-grch38.vcf').toString('latin1'), synthetic(300, 5, 3).toString('latin1'), fixture('v43-crlf.vcf').toString('latin1'), fixture('grch37-v41.vcf').toString('latin1'), fixture('pgx-cases/UGT1A1_s28s80phased.vcf').toString('latin1')];
    const damage = ['\t', ':', '/', '|', '.', ',', ';', '0', '1', '2', '9', 'A', 'N', '-', ' ', '<', '>', '*', '=', 'e', '+', '\r'];
    let damaged = 0;
    let rejected = 0;
    let published = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const rand = prng(seed);
      const lines = (bases[seed % bases.length] as string).split('\n');
      for (let i = 0; i < lines.length; i++) {
        let line = lines[i] as string;
        if (line === '' || line.startsWith('#') || rand() > 0.3) continue;
        for (let times = rand() < 0.2 ? 2 : 1; times > 0; times--) line = damageLine(line, rand, damage, true);
        lines[i] = line;
        damaged++;
      }
      const ours = expectAgreement(Buffer.from(lines.join('\n'), 'latin1'));
      for (const r of ours.rejected) expect(r.error.message).toMatch(new RegExp(`^line ${r.line}: .+`));
      const s = ours.parser.stats;
      expect(s.records).toBe(lines.filter((l) => l !== '' && l !== '\r' && !l.startsWith('#')).length);
      rejected += ours.rejected.length;
      published += ours.events.reduce((n, e) => n + e.calls.length, 0);
    }
    // Enough damage that both verdicts are well exercised.
    expect(damaged).toBeGreaterThan(2500);
    expect(rejected).toBeGreaterThan(damaged / 3);
    expect(rejected).toBeLessThan(damaged);
    expect(published).toBeGreaterThan(5000);
  });

  it('on a damaged header: the file is read or refused with one clear error, never another exception', () => {
    const files = ['multisample-grch38.vcf', 'v43-crlf.vcf', 'grch37-v41.vcf', 'gvcf-grch38.g.vcf'].map((f) => fixture(f).toString('latin1'));
    const damage = ['\t', ':', '/', '|', '.', ',', ';', '0', '=', '<', '>', '"', '#', '\r', ' ', 'x', '\n'];
    const outcomes = { read: 0, refused: 0 };
    for (let seed = 1; seed <= 1500; seed++) {
      const rand = prng(seed);
      const lines = (files[seed % files.length] as string).split('\n');
      const i = Math.floor(rand() * lines.findIndex((l) => !l.startsWith('#')));
      lines[i] = damageLine(lines[i] as string, rand, damage, false);
      try {
        parse(Buffer.from(lines.join('\n'), 'latin1'), { chunk: 997 });
        outcomes.read++;
      } catch (error) {
        expect(error, `seed ${seed}: ${JSON.stringify(lines[i])}`).toBeInstanceOf(InvalidInputError);
        outcomes.refused++;
      }
    }
    expect(outcomes.refused).toBeGreaterThan(150);
    expect(outcomes.read).toBeGreaterThan(150);
  });

  it('counts the same non-reference calls as a GT="alt" filter would on the synthetic file', () => {
    const ours = parse(thirty, { pgx: false });
    let alt = 0;
    for (const line of thirty.toString().split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      for (const col of line.split('\t').slice(9)) if ((col.split(':')[0] ?? '').split(/[/|]/).some((a) => a !== '.' && a !== '0')) alt++;
    }
    expect(ours.parser.stats.calls).toBe(alt);
    expect(ours.parser.stats.nonRefCalls).toBe(alt);
  });
});

describe('the WebAssembly fast path', () => {
  /** Everything the parser produced or counted, except which path each record took. */
  const outcome = (parsed: Parsed): unknown => {
    const { fastRecords: _fast, ...stats } = parsed.parser.stats;
    return {
      produced: parsed.produced.map((p) => ({ kind: p.kind, eventId: p.eventId, key: p.key, body: p.body.toString('base64') })),
      rejected: parsed.rejected.map((r) => ({ line: r.line, message: r.error.message, bytes: r.bytes.toString('latin1') })),
      stats,
    };
  };
  /** Parses with and without the fast path: the same events byte for byte, rejections and counts. Returns the share it took. */
  const expectSame = (bytes: Buffer, options: Parameters<typeof parse>[1] = {}): number => {
    const fast = parse(bytes, options);
    const slow = parse(bytes, { ...options, fastPath: false });
    expect(slow.parser.stats.fastRecords).toBe(0);
    expect(outcome(fast)).toEqual(outcome(slow));
    return fast.parser.stats.fastRecords / Math.max(1, fast.parser.stats.records);
  };

  it('writes what record() writes, byte for byte, and takes most records of the usual files', () => {
    const one = synthetic(6000, 1, 5);
    const thirty = synthetic(1500, 30, 6);
    // Different chunkings (lines cut between chunks), block sizes and PGx positions on and off.
    expect(expectSame(one, { chunk: 4093 })).toBeGreaterThan(0.95);
    expect(expectSame(one, { chunk: 65536, blockLines: 97, pgx: false })).toBeGreaterThan(0.9);
    expect(expectSame(one, { blockCalls: 50 })).toBeGreaterThan(0.9);
    expect(expectSame(thirty, { chunk: 10007 })).toBeGreaterThan(0.9);
    // (Chunks of two lines or so: each line cut between chunks goes through record().)
    expect(expectSame(thirty, { chunk: 777, blockLines: 33 })).toBeGreaterThan(0.2);
    expect(expectSame(Buffer.from(one.toString('latin1').replaceAll('\n', '\r\n'), 'latin1'), { chunk: 8191 })).toBeGreaterThan(0.95);
    // Unmapped samples: their calls are counted, not published, on both paths.
    const names = Array.from({ length: 30 }, (_, i) => `SYN${String(i + 1).padStart(5, '0')}`);
    const half = parseSampleMap(['sample\tpatient\tsample_id', ...names.filter((_, i) => i % 2 === 0).map((n, i) => `${n}\tPT-${i}\t`)].join('\n'));
    expect(expectSame(thirty, { mapping: half, chunk: 50000 })).toBeGreaterThan(0.9);
  });

  it('reads the FORMAT layouts of common callers: DP, GQ and PS anywhere, missing or absent', () => {
    // The synthetic file's GT:DP:GQ rewritten as GATK (GT:AD:DP:GQ:PL) and DeepVariant
    // (GT:GQ:DP:AD:VAF:PL) write it, some DP and GQ missing; as GT:AD (no DP, no GQ); with PS.
    const rand = prng(21);
    const layouts: [string, (gt: string, dp: string, gq: string) => string][] = [
      ['GT:AD:DP:GQ:PL', (gt, dp, gq) => `${gt}:${Math.max(0, Number(dp) - 3)},3:${rand() < 0.05 ? '.' : dp}:${gq}:0,30,300`],
      ['GT:GQ:DP:AD:VAF:PL', (gt, dp, gq) => `${gt}:${rand() < 0.05 ? '.' : gq}:${dp}:${dp},0:0.5:0,20,200`],
      ['GT:AD', (gt, dp) => `${gt}:${dp},1`],
      // Phased (WhatsHap, SHAPEIT): PS on phased calls, '.' on the others, now and then one too long for the fast path.
      ['GT:DP:GQ:PS', (gt, dp, gq) => `${gt}:${dp}:${gq}:${gt.includes('|') ? (rand() < 0.02 ? '123456789012' : String(1000 + Math.floor(rand() * 1e8))) : '.'}`],
    ];
    const base = synthetic(2000, 6, 12).toString('latin1').split('\n');
    for (const [format, column] of layouts) {
      const lines = base.map((line) => {
        if (line === '' || line.startsWith('#')) return line;
        const cols = line.split('\t');
        return [...cols.slice(0, 8), format, ...cols.slice(9).map((c) => column(...(c.split(':') as [string, string, string])))].join('\t');
      });
      expect(expectSame(Buffer.from(lines.join('\n'), 'latin1'), { chunk: 30011 })).toBeGreaterThan(0.9);
    }
  });

  it('scans a chunk larger than it takes at once in pieces, to the same events', () => {
    const bytes = synthetic(3000, 3, 14);
    const pieces = parse(bytes, { maxPushBytes: 4099 }); // one push of the whole file
    expect(outcome(pieces)).toEqual(outcome(parse(bytes)));
    expect(pieces.parser.stats.fastRecords).toBeGreaterThan(2000);
  });

  it('leaves the PGx positions to record(), which keeps their hom-ref and no-call calls', () => {
    // chr10 records around the CYP2C19 defining positions: hom-ref, no-call and variant calls, at
    // PGx positions and between them.
    const pgx = pgxPositions();
    const positions = pgx.within('10', 1, Number.MAX_SAFE_INTEGER).slice(0, 40);
    expect(positions.length).toBeGreaterThan(10);
    const genotypes = ['0/0:30:99', './.:.:.', '0/1:25:80', '1|1:20:70', '0/0:35:99', '0/0:28:90'];
    const lines: string[] = [];
    positions.forEach((p, i) => {
      const alt = p.alts[0] ?? 'T';
      lines.push(`chr10\t${p.pos - 3}\t.\tA\tG\t50\tPASS\tDP=30\tGT:DP:GQ\t${genotypes[(i + 2) % genotypes.length]}`);
      lines.push(`chr10\t${p.pos}\t${p.rsid ?? '.'}\t${p.ref}\t${alt}\t60\tPASS\tDP=30\tGT:DP:GQ\t${genotypes[i % genotypes.length]}`);
      lines.push(`chr10\t${p.pos + 2}\t.\tC\tT\t70\tPASS\tDP=30\tGT:DP:GQ\t${genotypes[(i + 4) % genotypes.length]}`);
    });
    const bytes = Buffer.concat([synthetic(500, 1, 9), Buffer.from(`${lines.join('\n')}\n`)]);
    const share = expectSame(bytes, { chunk: 3001 });
    expect(share).toBeGreaterThan(0.5);
    // Every call at a PGx position is kept, hom-ref and no-call included (some of the lines beside
    // one are at another).
    const atPgx = lines.map((l) => Number(l.split('\t')[1])).filter((pos) => pgx.chrom('10')?.has(pos) === true);
    const kept = parse(bytes).events.flatMap((e) => e.calls).filter((c) => c.chrom === '10' && pgx.chrom('10')?.has(c.pos) === true);
    expect(kept.map((c) => c.pos).sort()).toEqual(atPgx.sort());
  });

  it('leaves to record() what it does not take: the fixtures and damaged files agree too', () => {
    for (const name of ['multisample-grch38.vcf', 'grch37-v41.vcf', 'v43-crlf.vcf', 'unknown-build.vcf', 'gvcf-grch38.g.vcf']) expectSame(fixture(name), { chunk: 1021 });
    for (const f of readdirSync(path.join(FIXTURES, 'pgx-cases')).filter((x) => x.endsWith('.vcf'))) expectSame(fixture(`pgx-cases/${f}`));
    const bases = [synthetic(400, 1, 7).toString('latin1'), synthetic(200, 4, 8).toString('latin1')];
    const damage = ['\t', ':', '/', '|', '.', ',', ';', '0', '1', '2', '9', 'A', 'N', '-', ' ', '<', '>', '*', '=', 'e', '+', '\r', '\u00e9'];
    let taken = 0;
    for (let seed = 1; seed <= 120; seed++) {
      const rand = prng(seed);
      const lines = (bases[seed % bases.length] as string).split('\n');
      for (let i = 0; i < lines.length; i++) {
        if (lines[i] === '' || (lines[i] as string).startsWith('#') || rand() > 0.15) continue;
        lines[i] = damageLine(lines[i] as string, rand, damage, true);
      }
      taken += expectSame(Buffer.from(lines.join('\n'), 'latin1'), { chunk: 997 + seed });
    }
    expect(taken / 120).toBeGreaterThan(0.5);
  });

  it('is compiled from the committed AssemblyScript (npm run build:wasm)', () => {
    const check = spawnSync(process.execPath, [fileURLToPath(new URL('../../scripts/build-wasm.mjs', import.meta.url)), '--check'], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  }, 60_000);
});

describe('variant blocks', () => {
  it('state each site once, list exactly the samples with calls, and never hold a PGx-position call', () => {
    const { blocks, produced } = parse(fixture('multisample-grch38.vcf'), { mapping: MAP });
    expect(blocks.length).toBeGreaterThan(0);
    const pgx = pgxPositions();
    for (const block of blocks) {
      const listed = block.samples.map((s) => s.column);
      const used = [...new Set(block.sites.flatMap((s) => s.calls.map((c) => c.column)))].sort((a, b) => a - b);
      expect(listed).toEqual(used);
      for (const site of block.sites) {
        expect(site.calls.length).toBeGreaterThan(0);
        expect(pgx.chrom(block.chrom)?.has(site.pos) ?? false).toBe(false);
        for (const c of site.calls) expect(c.gt.some((a) => a !== null && a > 0)).toBe(true);
      }
      expect(new Set(block.sites.map((s) => s.recordRef)).size).toBe(block.sites.length);
    }
    // Keys: per-patient events by patient, blocks by their own id (spread over partitions).
    for (const p of produced) expect(p.key).toBe(p.kind === 'block' ? p.eventId : (p.value as GenotypeCallSet).patientId);
    for (const e of produced.filter((p) => p.kind === 'calls')) {
      for (const c of (e.value as GenotypeCallSet).calls) expect(pgx.chrom(c.chrom)?.has(c.pos)).toBe(true);
    }
  });

  it('stay below the size limit on a wide cohort, whatever the line count', () => {
    const bytes = synthetic(1500, 400, 5);
    const { produced, parser } = parse(bytes, { pgx: false });
    const blocks = produced.filter((p) => p.kind === 'block');
    // 1,500 records of 400 samples are ~2 MB of calls: several blocks, each cut by bytes.
    expect(blocks.length).toBeGreaterThan(3);
    for (const b of blocks) expect(b.body.length).toBeLessThan(BLOCK_BYTES + 64 * 1024);
    expect(blocks.reduce((n, b) => n + (b.value as VariantBlock).sites.reduce((m, s) => m + s.calls.length, 0), 0)).toBe(parser.stats.calls);
  });

  it('are the same when the file hash arrives after the scan began (blocks wait for it)', () => {
    const bytes = fixture('multisample-grch38.vcf');
    const known = parse(bytes, { blockLines: 3 });
    const late = new VcfParser({ facts: { ...FACTS, sha256: '' }, mapping: HASHED, pgx: pgxPositions(), blockLines: 3 });
    const half = Math.floor(bytes.length * 0.8);
    late.push(bytes.subarray(0, half));
    const early = late.take();
    expect(early.events).toEqual([]);
    expect(late.bytesWaiting).toBeGreaterThan(0);
    late.resolveSha256(FACTS.sha256, FACTS.sourceId);
    expect(late.bytesWaiting).toBe(0);
    const bodies = late.take().events.map((e) => e.value);
    late.push(bytes.subarray(half));
    late.end();
    bodies.push(...late.take().events.map((e) => e.value));
    expect(bodies).toEqual(known.produced.map((p) => p.body));
  });

  it('are the same when the wire headers and the hash arrive after the scan began, in either order', () => {
    const bytes = fixture('multisample-grch38.vcf');
    const wire = { calls: Buffer.from([0, 0, 0, 0, 7]), block: Buffer.from([0, 0, 0, 1, 2]) };
    const known = new VcfParser({ facts: FACTS, mapping: HASHED, pgx: pgxPositions(), blockLines: 3, wireHeaders: wire });
    known.push(bytes);
    known.end();
    const expected = known.take().events.map((e) => e.value);
    expect(expected.length).toBeGreaterThan(2);
    for (const hashFirst of [true, false]) {
      const late = new VcfParser({ facts: { ...FACTS, sha256: '' }, mapping: HASHED, pgx: pgxPositions(), blockLines: 3, wireHeaders: 'later' });
      const half = Math.floor(bytes.length * 0.6);
      late.push(bytes.subarray(0, half));
      if (hashFirst) late.resolveSha256(FACTS.sha256, FACTS.sourceId);
      else late.resolveWireHeaders(wire);
      // One of the two is still missing: nothing comes out yet.
      expect(late.take().events).toEqual([]);
      expect(late.bytesWaiting).toBeGreaterThan(0);
      if (hashFirst) late.resolveWireHeaders(wire);
      else late.resolveSha256(FACTS.sha256, FACTS.sourceId);
      expect(late.bytesWaiting).toBe(0);
      const bodies = late.take().events.map((e) => e.value);
      late.push(bytes.subarray(half));
      late.end();
      bodies.push(...late.take().events.map((e) => e.value));
      expect(bodies).toEqual(expected);
      expect(bodies[0]?.subarray(0, 5).equals(wire.calls) || bodies[0]?.subarray(0, 5).equals(wire.block)).toBe(true);
    }
  });

  it('read a long INFO (an annotated file) like a short one, also as the last column of a line', () => {
    const text = fixture('multisample-grch38.vcf').toString();
    // A VEP-like annotation of ~600 bytes in every record's INFO: the events must not change.
    const csq = `CSQ=${Array.from({ length: 12 }, (_, i) => `G|missense_variant|MODERATE|GENE${i}|ENSG000001${i}|Transcript|ENST000002${i}|protein_coding|4/9||`).join(',')}`;
    const padded = text
      .split('\n')
      .map((l) => {
        if (l === '' || l.startsWith('#')) return l;
        const cols = l.split('\t');
        cols[7] = cols[7] === '.' ? csq : `${cols[7]};${csq}`;
        return cols.join('\t');
      })
      .join('\n');
    expect(padded.length).toBeGreaterThan(text.length + 5000);
    const plain = parse(Buffer.from(text), { blockLines: 4 });
    const long = parse(Buffer.from(padded), { blockLines: 4 });
    expect(long.produced.map((p) => p.body)).toEqual(plain.produced.map((p) => p.body));
    expect(long.rejected.map((r) => [r.line, r.error.message])).toEqual(plain.rejected.map((r) => [r.line, r.error.message]));
    // A record that ends after a long INFO (no FORMAT, no samples) is refused as with a short one,
    // even though the next line has tabs.
    const head = text.split('\n').filter((l) => l.startsWith('#')).join('\n');
    const row = ['chr2', '1000', '.', 'A', 'G', '50', 'PASS', csq].join('\t');
    const next = ['chr2', '1001', '.', 'C', 'T', '50', 'PASS', '.', 'GT', '0/1', '0/0', '0/0', '0/0'].join('\t');
    const cut = parse(Buffer.from(`${head}\n${row}\n${next}\n`));
    const first = head.split('\n').length + 1;
    expect(cut.rejected.map((r) => [r.line, r.error.message])).toEqual([[first, `line ${first}: expected 13 tab-separated columns (9 + 4 samples), found 8`]]);
    expect(cut.blocks.flatMap((b) => b.sites.map((x) => x.pos))).toEqual([1001]);
  });

  it('read recurring FILTER values once and still refuse empty filter names', () => {
    const head = fixture('multisample-grch38.vcf').toString().split('\n').filter((l) => l.startsWith('#')).join('\n');
    // The empty FILTER comes first, before any value has been remembered.
    const filters = ['', 'LowQual', 'LowQual', 'q10;s50', 'q10;', 'q10;s50', 'LowQual', '.', 'PASS'];
    const rows = filters.map((f, i) => ['chr2', String(1000 + i), '.', 'A', 'G', '50', f, '.', 'GT', '0/1', '0/0', '0/0', '0/0']);
    const { blocks, rejected } = parse(Buffer.from(`${head}\n${rows.map((r) => r.join('\t')).join('\n')}\n`));
    const first = head.split('\n').length + 1;
    expect(rejected.map((r) => [r.line, r.error.message])).toEqual([
      [first, `line ${first}: FILTER '' has an empty filter name`],
      [first + 4, `line ${first + 4}: FILTER 'q10;' has an empty filter name`],
    ]);
    expect(blocks.flatMap((b) => b.sites.map((s) => s.filters))).toEqual([['LowQual'], ['LowQual'], ['q10', 's50'], ['q10', 's50'], ['LowQual'], [], ['PASS']]);
  });

  it('take nothing from a rejected record at PGx positions either (per-patient calls)', () => {
    const head = fixture('multisample-grch38.vcf').toString().split('\n').filter((l) => l.startsWith('#')).join('\n');
    const [p1, p2, p3] = pgxPositions().file.positions.filter((p) => p.chrom === '1' && p.ref.length === 1 && p.alts[0]?.length === 1);
    if (p1 === undefined || p2 === undefined || p3 === undefined) throw new Error('expected three SNV PGx positions on chromosome 1');
    const row = (p: typeof p1, last: string): string => ['chr1', String(p.pos), '.', p.ref, p.alts[0], '50', 'PASS', '.', 'GT', '0/1', '0/0', './.', last].join('\t');
    // The second record's hom-ref and no-call calls are appended before its last column fails.
    const { events, rejected } = parse(Buffer.from(`${head}\n${row(p1, '0/0')}\n${row(p2, '0/9')}\n${row(p3, '1/1')}\n`));
    expect(rejected.map((r) => r.line)).toEqual([head.split('\n').length + 2]);
    expect(events).toHaveLength(4);
    for (const e of events) expect(e.calls.map((c) => c.pos)).toEqual([p1.pos, p3.pos]);
  });

  it('refuse records with shifted or missing columns, also where there is nothing to publish', () => {
    const head = fixture('multisample-grch38.vcf').toString().split('\n').filter((l) => l.startsWith('#')).join('\n');
    const rows: [string[], RegExp | undefined][] = [
      // INFO lost: the first genotype stands where FORMAT should.
      [['chr2', '100', '.', 'A', 'C', '50', 'PASS', 'GT:DP', '0/1:3', '0/0:3', '0/0:3', '0/0:3'], /FORMAT '0\/1:3' is not a list of FORMAT keys/],
      // No GT, so nothing to publish, but one sample column too many.
      [['chr2', '101', '.', 'A', 'C', '50', 'PASS', '.', 'DP', '3', '3', '3', '3', '3'], /expected 13 tab-separated columns \(9 \+ 4 samples\), found 14/],
      [['chr2', '0102', '.', 'A', 'C', '50', 'PASS', '.', 'GT', '0/1', '0/0', '0/0', '0/0'], /POS '0102' is not a 1-based position \(no leading zeros/],
      [['chr2', '103', '.', 'A', 'C', '0x10', 'PASS', '.', 'GT', '0/1', '0/0', '0/0', '0/0'], /QUAL '0x10' is not a number/],
      [['chr2', '103', '.', 'A', 'C', '50', 'PASS', '.', 'GT:GT', '0/1:1/1', '0/0:0/0', '0/0:0/0', '0/0:0/0'], /FORMAT 'GT:GT' names a key twice/],
      [['chr2', '9007199254740993', '.', 'A', 'C', '50', 'PASS', '.', 'GT', '0/1', '0/0', '0/0', '0/0'], /POS '9007199254740993' is not a 1-based position/],
      [['chr2', '104', '.', 'A', 'C', '50', 'PASS', '', 'GT', '0/1', '0/0', '0/0', '0/0'], /INFO is empty \(a missing value is '\.'\)/],
      // Cut short on a contig that is not published: still a broken record.
      [['chrUn_KI270742v1', '15321', '.', 'T'], /expected 13 tab-separated columns \(9 \+ 4 samples\), found 4/],
      // Well-formed without GT: nothing to publish, nothing wrong.
      [['chr2', '105', '.', 'A', 'C', '50', 'PASS', '.', 'DP', '3', '3', '3', '3'], undefined],
      [['chr2', '106', '.', 'A', 'C', '1.5e2', 'PASS', '.', 'GT', '0/1', '0/0', '0/0', '0/0'], undefined],
      // An empty ID (some pipelines write one) is missing, as '.' is.
      [['chr2', '107', '', 'A', 'C', '50', 'PASS', '.', 'GT', '0/1', '0/0', '0/0', '0/0'], undefined],
    ];
    const { parser, rejected, events } = parse(Buffer.from(`${head}\n${rows.map(([r]) => r.join('\t')).join('\n')}\n`));
    const first = head.split('\n').length + 1;
    expect(rejected.map((r) => r.line)).toEqual(rows.flatMap(([, reason], i) => (reason === undefined ? [] : [first + i])));
    rows.forEach(([, reason], i) => {
      if (reason !== undefined) expect(rejected.find((r) => r.line === first + i)?.error.message).toMatch(reason);
    });
    expect(parser.stats.recordsWithoutGenotypes).toBe(1);
    expect(events.flatMap((e) => e.calls).map((c) => [c.pos, c.quality, c.variantId])).toEqual([
      [106, 150, null],
      [107, 50, null],
    ]);
  });

  it('take nothing from a rejected record: neither its calls nor its samples', () => {
    const head = fixture('multisample-grch38.vcf').toString().split('\n').filter((l) => l.startsWith('#')).join('\n');
    const rows = [
      ['chr2', '1000', '.', 'A', 'G', '50', 'PASS', '.', 'GT', '0/1', '0/0', '0/0', '0/0'],
      // Samples 2 and 3 carry ALT calls before the last column turns out malformed.
      ['chr2', '1001', '.', 'C', 'T', '50', 'PASS', '.', 'GT', '0/0', '1/1', '0/1', '0/9'],
      ['chr2', '1002', '.', 'G', 'A', '50', 'PASS', '.', 'GT', '1/1', '0/0', '0/0', '0/0'],
    ];
    const { blocks, rejected, parser } = parse(Buffer.from(`${head}\n${rows.map((r) => r.join('\t')).join('\n')}\n`));
    expect(rejected.map((r) => r.line)).toEqual([head.split('\n').length + 2]);
    expect(blocks).toHaveLength(1);
    const [block] = blocks;
    expect(block?.sites.map((s) => s.pos)).toEqual([1000, 1002]);
    expect(block?.samples.map((s) => s.column)).toEqual([0]);
    // Nor are its calls counted.
    expect(parser.stats.nonRefCalls).toBe(2);
    expect(parser.stats.calls).toBe(2);
  });
});

describe('Avro encoding', () => {
  it('is byte for byte what avsc writes for the committed schema', () => {
    for (const name of ['multisample-grch38.vcf', 'gvcf-grch38.g.vcf', 'v43-crlf.vcf', 'grch37-v41.vcf']) {
      const { produced } = parse(fixture(name));
      if (name === 'multisample-grch38.vcf') expect(new Set(produced.map((p) => p.kind))).toEqual(new Set(['calls', 'block']));
      for (const p of produced) expect(types[p.kind].toBuffer(p.value).equals(p.body), name).toBe(true);
    }
  });

  it('takes the short ways (one-character GT, GT:DP:GQ) and the general one to the same calls and bytes', () => {
    // Sample columns in every shape the scanner treats apart: hom-ref and no-call skips, one-character
    // diploid GT with DP:GQ read in passing, and what falls back to the general walk (missing or long
    // numbers, more subfields, multi-digit alleles, haploid, GT not first).
    const head = fixture('multisample-grch38.vcf').toString().split('\n').filter((l) => l.startsWith('#')).join('\n');
    const columns = (format: string, values: string[]): string[] => [format, ...values];
    const rows = [
      ['chr1', '97515787', '.', 'A', 'AT,ATT', '310.8', 'PASS', 'DP=1', ...columns('GT:DP:GQ', ['0/0:12:40', './.:0:.', '0|2:9:99', '2/1:1234567890:7'])],
      ['chr2', '1000', 'rs1', 'A', 'G', '50', 'PASS', 'DP=1', ...columns('GT:DP:GQ', ['0/1:.:40', '1|.:5:5', '.|1:63:64', '0/.:8191:8192'])],
      ['chr2', '1001', '.', 'C', 'T', '5.5', 'LowQual', 'DP=1', ...columns('GT:DP:GQ:AD', ['1/1:20:30:0,20', '0/1:20:30', '0/0:1:1:1,0', '1/0:7:8:3,4'])],
      ['chr2', '1002', '.', 'C', 'T,G,A,C,T,G,A,C,T,G', '.', '.', 'DP=1', ...columns('GT:DP:GQ', ['10/1:5:5', '0/10:5:5', '1/1/1:5:5', '1:5:5'])],
      ['chr2', '1003', '.', 'G', 'A', '99', 'PASS', 'DP=1', ...columns('DP:GT:GQ', ['5:0/1:5', '5:0/0:5', '5:./.:5', '5:1|1:5'])],
      ['chr10', '94781859', 'rs4244285', 'G', 'A', '1502.2', 'PASS', 'DP=1', ...columns('GT:DP:GQ', ['0/0:35:99', './.:0:.', '0/.:20:12', '1|0:34:99'])],
      ['chrX', '154532046', '.', 'A', 'C', '512.7', 'PASS', 'DP=1', ...columns('GT:DP:GQ', ['0:24:72', '1:22:99', '.:3:3', '0/1:23:99'])],
    ];
    const bytes = Buffer.from(`${head}\n${rows.map((r) => r.join('\t')).join('\n')}\n`);
    const ours = parse(bytes, { chunk: 97 });
    for (const p of ours.produced) expect(types[p.kind].toBuffer(p.value).equals(p.body)).toBe(true);
    const reference = referenceCalls(bytes.toString('utf8'), pgxPositions());
    expect(ours.rejected.map((r) => r.line)).toEqual(reference.rejectedLines);
    const columnOf = new Map((ours.parser.resolved?.columns ?? []).map((c, i) => [c?.sampleId, i]));
    const key = (column: number | undefined, c: { chrom: string; pos: number }): string => `${c.chrom}:${String(c.pos).padStart(10, '0')}:${column}`;
    const mine = ours.events.flatMap((e) => e.calls.map((c) => ({ k: key(columnOf.get(e.sampleId), c), call: { ...c, gene: undefined } })));
    const theirs = reference.calls.map((r) => ({ k: key(r.column, r.call), call: { ...r.call, gene: undefined } }));
    const byKey = (a: { k: string }, b: { k: string }): number => a.k.localeCompare(b.k);
    expect(mine.sort(byKey)).toEqual(theirs.sort(byKey));
    expect(mine.length).toBeGreaterThan(15);
  });

  it('writes longs as Avro zigzag varints, beyond 32 bits too', () => {
    for (const n of [0, 1, -1, 63, 64, -65, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 3_000_000_000, 2 ** 52 + 1, 2 ** 53 - 1, -(2 ** 53 - 1)]) {
      const buf = Buffer.alloc(10);
      const end = writeLong(buf, 0, n);
      expect(buf.subarray(0, end).toString('hex'), String(n)).toBe(zigzagReference(n));
    }
  });
});

/** Zigzag varint with BigInt, independent of the implementation under test. */
function zigzagReference(n: number): string {
  let z = BigInt(n) >= 0n ? BigInt(n) * 2n : -BigInt(n) * 2n - 1n;
  const out: number[] = [];
  do {
    let byte = Number(z & 0x7fn);
    z >>= 7n;
    if (z > 0n) byte |= 0x80;
    out.push(byte);
  } while (z > 0n);
  return Buffer.from(out).toString('hex');
}

describe('line ends, compression and versions', () => {
  it('reads CRLF files like LF files', () => {
    const crlf = parse(fixture('v43-crlf.vcf'));
    const lf = parse(Buffer.from(fixture('v43-crlf.vcf').toString().replace(/\r\n/g, '\n')));
    expect(crlf.events.map((e) => e.calls)).toEqual(lf.events.map((e) => e.calls));
    expect(crlf.events.flatMap((e) => e.calls).find((c) => c.pos === 94842866)).toMatchObject({ gt: [1, 1], phased: true, phaseSet: 94761900 });
    expect(crlf.parser.header?.version).toBe('4.3');
  });

  it('reads plain, gzip and bgzip (also many small blocks) to the same text', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'vcf-unit-'));
    const text = synthetic(3000, 5, 3);
    const blocks: Buffer[] = [];
    for (let i = 0; i < text.length; i += 1000) blocks.push(bgzfBlock(text.subarray(i, i + 1000)));
    blocks.push(bgzfBlock(Buffer.alloc(0)));
    await writeFile(path.join(dir, 'many.vcf.gz'), Buffer.concat(blocks));
    const inspected = await inspectFile(path.join(dir, 'many.vcf.gz'));
    expect(inspected.compression).toBe('bgzf');
    const chunks: Buffer[] = [];
    let stored = 0;
    for await (const c of readText(path.join(dir, 'many.vcf.gz'), 'bgzf', (n) => (stored += n))) chunks.push(c);
    expect(Buffer.concat(chunks).equals(text)).toBe(true);
    expect(stored).toBe(inspected.byteSize);

    // Damaged on the way to the scan (the inspection is a separate read): the text before the damage
    // is read, then one clear error.
    const readUntilError = async (bytes: Buffer): Promise<{ text: Buffer; error: unknown }> => {
      const file = path.join(dir, 'damaged.vcf.gz');
      await writeFile(file, bytes);
      const got: Buffer[] = [];
      try {
        for await (const c of readText(file, 'bgzf')) got.push(c);
      } catch (error) {
        return { text: Buffer.concat(got), error };
      }
      return { text: Buffer.concat(got), error: undefined };
    };
    const before = blocks.slice(0, 40);
    const bad = Buffer.from(blocks[40] as Buffer);
    bad.fill(0x55, 18, 40); // deflate data
    const corrupt = await readUntilError(Buffer.concat([...before, bad, ...blocks.slice(41)]));
    expect(corrupt.error).toBeInstanceOf(InvalidInputError);
    expect(String(corrupt.error)).toMatch(/corrupt bgzip block/);
    expect(corrupt.text.equals(text.subarray(0, 40 * 1000))).toBe(true);
    const cut = await readUntilError(Buffer.concat(blocks).subarray(0, -10));
    expect(String(cut.error)).toMatch(/truncated bgzip file: 18 bytes after the last whole block/);
    const alien = await readUntilError(Buffer.concat([...before, gzipSync(Buffer.from('not bgzip')), ...blocks.slice(40)]));
    expect(String(alien.error)).toMatch(new RegExp(`corrupt bgzip file: no BGZF block header at byte ${Buffer.concat(before).length}$`));
    expect(alien.text.equals(text.subarray(0, 40 * 1000))).toBe(true);
    // BSIZE covering bytes after the gzip member (which gunzip would skip, and the blocks after it).
    const padded = Buffer.concat([blocks[40] as Buffer, Buffer.alloc(4)]);
    padded.writeUInt16LE(padded.length - 1, 16);
    const stray = await readUntilError(Buffer.concat([...before, padded, ...blocks.slice(41)]));
    expect(String(stray.error)).toMatch(new RegExp(`corrupt bgzip block at byte ${Buffer.concat(before).length}: it inflates to 1000 bytes, its BGZF trailer says 0$`));
    expect(stray.text.equals(text.subarray(0, 40 * 1000))).toBe(true);
    // Far into a file of several 1 MiB reads (stored blocks, so the file is as large as its text):
    // the same text, and the byte named in an error is still exact.
    const wide = Buffer.from(Array.from({ length: 40 }, () => text.toString('latin1')).join(''), 'latin1');
    const storedBlocks: Buffer[] = [];
    for (let i = 0; i < wide.length; i += 60_000) storedBlocks.push(bgzfBlock(wide.subarray(i, i + 60_000), 0));
    const whole = await readUntilError(Buffer.concat([...storedBlocks, BGZF_EOF]));
    expect(whole.error).toBeUndefined();
    expect(whole.text.equals(wide)).toBe(true);
    const late = Buffer.concat([...storedBlocks.slice(0, 70), Buffer.from('junk'.repeat(10)), ...storedBlocks.slice(70)]);
    const far = await readUntilError(late);
    expect(String(far.error)).toMatch(new RegExp(`no BGZF block header at byte ${Buffer.concat(storedBlocks.slice(0, 70)).length}$`));
    expect(far.text.equals(wide.subarray(0, 70 * 60_000))).toBe(true);
    // Read once: a second reading, or one after closing, is refused instead of waiting forever.
    const once = new BgzfInflation(path.join(dir, 'many.vcf.gz'));
    for await (const c of once.text()) expect(c.length).toBeGreaterThan(0);
    await expect(once.text().next()).rejects.toThrow(/read once/);
    // A plain file of several 1 MiB chunks and a partial last one: the same bytes, in order, all counted.
    const big = Buffer.concat(Array.from({ length: 9 }, () => text)).subarray(0, 2 * 1024 * 1024 + 12_345);
    await writeFile(path.join(dir, 'big.vcf'), big);
    const read: Buffer[] = [];
    let counted = 0;
    for await (const c of readText(path.join(dir, 'big.vcf'), 'none', (n) => (counted += n))) read.push(c);
    expect(read.map((c) => c.length)).toEqual([1024 * 1024, 1024 * 1024, 12_345]);
    expect(Buffer.concat(read).equals(big)).toBe(true);
    expect(counted).toBe(big.length);

    const plain = fixture('multisample-grch38.vcf');
    const plainFile = path.join(FIXTURES, 'multisample-grch38.vcf');
    expect(await sniffCompression(plainFile)).toBe('none');
    // The worker's hash is the one the inspection computes.
    expect(await hashInWorker(plainFile)).toEqual({ sha256: (await inspectFile(plainFile)).sha256, byteSize: plain.length });
    await expect(hashInWorker(path.join(dir, 'missing.vcf'))).rejects.toThrow(/cannot be read/);
    for (const [name, compression] of [['multisample-grch38.vcf.gz', 'bgzf'], ['grch37-v41.vcf.gz', 'gzip']] as const) {
      const file = path.join(FIXTURES, name);
      expect((await inspectFile(file)).compression).toBe(compression);
      expect(await inspectFile(file, -1)).toEqual(await inspectFile(file));
      expect(await sniffCompression(file)).toBe(compression);
      const got: Buffer[] = [];
      for await (const c of readText(file, compression)) got.push(c);
      const expected = name.startsWith('multi') ? plain : fixture('grch37-v41.vcf');
      expect(Buffer.concat(got).equals(expected), name).toBe(true);
    }
  });

  it('refuses a truncated gzip, a non-VCF, an empty and a header-only file with one clear error', async () => {
    await expect(inspectFile(path.join(FIXTURES, 'truncated.vcf.gz'))).rejects.toThrow(/truncated bgzip file/);
    const cutGzip = path.join(await mkdtemp(path.join(tmpdir(), 'vcf-unit-')), 'cut.vcf.gz');
    await writeFile(cutGzip, fixture('grch37-v41.vcf.gz').subarray(0, 300));
    await expect(inspectFile(cutGzip)).rejects.toThrow(/corrupt or truncated gzip file/);
    await expect(inspectFile(path.join(FIXTURES, 'empty.vcf'))).rejects.toThrow(/empty/);
    // Large files are inspected through a read stream, small ones with blocking reads: same verdicts.
    await expect(inspectFile(path.join(FIXTURES, 'truncated.vcf.gz'), -1)).rejects.toThrow(/truncated bgzip file/);
    await expect(inspectFile(cutGzip, -1)).rejects.toThrow(/corrupt or truncated gzip file/);
    await expect(inspectFile(path.join(FIXTURES, 'empty.vcf'), -1)).rejects.toThrow(/empty/);
    // Damaged in the middle, past what gunzip buffers: refused, not left waiting for a 'drain' that never comes.
    const text = synthetic(20000, 5, 9);
    const damaged = gzipSync(text);
    expect(damaged.length).toBeGreaterThan(64 * 1024);
    damaged.fill(0, damaged.length >> 1, (damaged.length >> 1) + 4096);
    const damagedFile = path.join(path.dirname(cutGzip), 'damaged.vcf.gz');
    await writeFile(damagedFile, damaged);
    await expect(inspectFile(damagedFile)).rejects.toThrow(/corrupt or truncated gzip file/);
    await expect(inspectFile(damagedFile, -1)).rejects.toThrow(/corrupt or truncated gzip file/);
    expect(() => parse(fixture('not-a-vcf.txt'))).toThrow(/not a VCF: a VCF starts with '##fileformat=VCFv4.x', this file starts with 'sample_id,gene,result'/);
    expect(() => parse(fixture('header-only.vcf'))).toThrow(/header but no records/);
    expect(() => parse(Buffer.alloc(0))).toThrow(/empty/);
    expect(() => parse(Buffer.from('BCF\u0002\u0002 binary genotype data follows here........'))).toThrow(/BCF/);
    expect(() => parse(Buffer.from('##fileformat=VCFv4.0\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS\n1\t1\t.\tA\tC\t.\t.\t.\tGT\t0/1\n'))).toThrow(
      /VCFv4.0 is not supported/,
    );
    expect(() => parse(Buffer.from('##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t1\t.\tA\tC\t.\t.\t.\n'))).toThrow(/sites-only/);
  });
});

describe('PGx positions and builds', () => {
  it('does not apply the GRCh38 PGx positions to GRCh37 input', () => {
    const { events, parser } = parse(fixture('grch37-v41.vcf'));
    expect(parser.stats.pgx.active).toBe(false);
    expect(parser.stats.pgx.reason).toMatch(/GRCh37/);
    const calls = events.flatMap((e) => e.calls);
    expect(calls.map((c) => c.pos)).toEqual([97915614, 96541616, 42526694, 153760654, 16519]); // the 0/0 at 96521657 is not kept
    expect(calls.map((c) => c.chrom)).toEqual(['1', '10', '22', 'X', 'MT']);
  });

  it('projects gVCF reference blocks onto the PGx positions they cover, and keeps <NON_REF> faithfully', () => {
    const { events, parser, rejected } = parse(fixture('gvcf-grch38.g.vcf'));
    expect(rejected).toEqual([]);
    const calls = events.flatMap((e) => e.calls);
    expect(calls.find((c) => c.pos === 94761900)).toMatchObject({ ref: 'C', alts: [], gt: [0, 0], depth: 34, genotypeQuality: 99, recordRef: '15 (reference block 94761800-94761950)' });
    expect(calls.find((c) => c.pos === 94781859)).toMatchObject({ ref: 'G', alts: ['A', '<NON_REF>'], gt: [0, 1], quality: 1502.77 });
    expect(calls.find((c) => c.pos === 94842866)).toMatchObject({ ref: 'A', alts: [], gt: [0, 0], depth: 25 });
    const inNoCallBlock = pgxPositions().within('10', 94781861, 94842800);
    expect(inNoCallBlock.length).toBeGreaterThan(0);
    for (const p of inNoCallBlock) expect(calls.find((c) => c.pos === p.pos)).toMatchObject({ gt: [null, null], alts: [] });
    expect(parser.stats.pgx.covered).toBe(calls.length);
  });

  it('keeps hom-ref calls at PGx positions for an UNKNOWN build, marked UNKNOWN', () => {
    const { events } = parse(fixture('unknown-build.vcf'));
    // Sorted: the PGx-position call and the variant block's call are in different events.
    expect(events.flatMap((e) => e.calls).sort((a, b) => a.pos - b.pos).map((c) => [c.pos, c.gt])).toEqual([
      [94781859, [0, 0]],
      [94781900, [0, 1]],
    ]);
  });

  it('publishes every line of the PGx case files (all are PGx positions or variants)', () => {
    const { events } = parse(fixture('pgx-cases/UGT1A1_s28s80phased.vcf'));
    expect(events.flatMap((e) => e.calls).map((c) => [c.pos, c.alts, c.gt, c.phased])).toEqual([
      [233759924, ['T'], [0, 1], true],
      [233760233, ['CATAT', 'C', 'CATATAT'], [0, 1], true],
      [233760498, [], [0, 0], true],
      [233760973, [], [0, 0], true],
    ]);
  });
});

describe('samples and publishers', () => {
  it('groups the digits of counts in the summary as en-US does', () => {
    for (const n of [0, 7, 999, 1000, 65536, 1234567, 119758620, 5616717]) expect(grouped(n)).toBe(n.toLocaleString('en-US'));
  });

  it('parses a sample map and refuses a broken one', () => {
    expect(MAP.kind === 'file' && MAP.entries.get('NA12891')).toEqual({ patientId: 'PT-000102', sampleId: null });
    expect(() => parseSampleMap('NA1\n')).toThrow(/line 1: expected/);
    expect(() => parseSampleMap('NA1\tPT 1\n')).toThrow(/patient id must be/);
    expect(() => parseSampleMap('NA1\tPT1\nNA1\tPT2\n')).toThrow(/listed twice/);
  });

  it('derives stable pseudonyms from sample names with a key, never the name itself', () => {
    const a = resolveSamples(['NA12878', 'NA12891'], HASHED, 'a'.repeat(64));
    const b = resolveSamples(['NA12878'], HASHED, 'b'.repeat(64));
    expect(a.columns[0]).toEqual(b.columns[0]);
    expect(a.columns[0]?.patientId).not.toBe(a.columns[1]?.patientId);
    expect(JSON.stringify(a)).not.toMatch(/NA128/);
    expect(resolveSamples(['NA12878'], { kind: 'keyed-hash', key: 'other' }, 'a'.repeat(64)).columns[0]?.patientId).not.toBe(a.columns[0]?.patientId);
  });

  it('authenticates upload bearer tokens by client', () => {
    const known = publishers(['lab-nord=' + 'n'.repeat(40), 'lab-sud=' + 's'.repeat(40)]);
    expect(authenticate(`Bearer ${'s'.repeat(40)}`, known)).toBe('lab-sud');
    expect(authenticate(`bearer ${'n'.repeat(40)}`, known)).toBe('lab-nord');
    expect(authenticate(`Bearer ${'n'.repeat(39)}`, known)).toBeUndefined();
    expect(authenticate(undefined, known)).toBeUndefined();
    expect(authenticate(`Basic ${'n'.repeat(40)}`, known)).toBeUndefined();
  });
});

describe('scanner warm-up', () => {
  it('is a VCF the scanner accepts whole, with the record shapes it exists to exercise', () => {
    const text = warmUpVcf(pgxPositions());
    const { parser, rejected, events, blocks, produced } = parse(Buffer.from(text, 'latin1'), { chunk: 97 });
    expect(rejected).toEqual([]);
    expect(parser.header?.assembly).toBe('GRCh38');
    expect(parser.stats.records).toBe(text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length);
    // A PGx position (kept with its hom-ref call), several chromosomes, multi-allelic, phased with PS, haploid.
    expect(parser.stats.pgx.covered).toBe(1);
    const calls = events.flatMap((e) => e.calls);
    expect(new Set(calls.map((c) => c.chrom))).toEqual(new Set(['1', '2', '10', 'X']));
    expect(calls.some((c) => c.chrom === '10' && c.gt.every((a) => a === 0))).toBe(true);
    expect(calls.some((c) => c.alts.length === 2 && c.gt.includes(2))).toBe(true);
    expect(calls.some((c) => c.phased && c.phaseSet === 263000)).toBe(true);
    expect(calls.some((c) => c.chrom === 'X' && c.gt.length === 1)).toBe(true);
    expect(blocks.length).toBeGreaterThan(0);
    // Scanned in pieces as the warm-up does it: every record taken, nothing rejected.
    expect(scanWarmUp(pgxPositions())).toMatchObject({ records: parser.stats.records, rejected: 0, events: produced.length });
  });
});

describe('errors are InvalidInputError', () => {
  it('so that runners dead-letter records and refuse files without retrying', () => {
    const { rejected } = parse(fixture('multisample-grch38.vcf'), { mapping: MAP });
    for (const r of rejected) expect(r.error).toBeInstanceOf(InvalidInputError);
  });
});
