/**
 * Generator of realistic synthetic VCFs for the VCF connector benchmark (deterministic: the same
 * options give the same bytes). A GRCh38 cohort VCF as a joint-calling pipeline writes it:
 * GT:DP:GQ, ~75 % hom-ref genotypes, ~3 % multi-allelic sites, SNVs and indels, ~1 % missing
 * calls, phased genotypes for a fifth of the samples (read-backed, with '|'), haploid calls on chrX
 * for the male half of the cohort, QUAL/FILTER/INFO as callers write them.
 *
 *   node --import tsx bench/vcf-generate.ts OUT.vcf[.gz] [--records 220000] [--samples 100] [--seed 1]
 *   (.gz output is BGZF, as bgzip writes it.) --gigabytes N sizes the file instead of --records.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { deflateRawSync, crc32 } from 'node:zlib';

export interface GenerateOptions {
  records: number;
  samples: number;
  seed?: number;
  /** BGZF-compress the output. */
  bgzip?: boolean;
}

/** GRCh38 primary-assembly lengths (the ##contig lines tell the build). */
const CONTIGS: [string, number][] = [
  ['chr1', 248956422], ['chr2', 242193529], ['chr3', 198295559], ['chr4', 190214555], ['chr5', 181538259],
  ['chr6', 170805979], ['chr7', 159345973], ['chr8', 145138636], ['chr9', 138394717], ['chr10', 133797422],
  ['chr11', 135086622], ['chr12', 133275309], ['chr13', 114364328], ['chr14', 107043718], ['chr15', 101991189],
  ['chr16', 90338345], ['chr17', 83257441], ['chr18', 80373285], ['chr19', 58617616], ['chr20', 64444167],
  ['chr21', 46709983], ['chr22', 50818468], ['chrX', 156040895], ['chrY', 57227415], ['chrM', 16569],
];
/** Chromosomes carrying records (Y and MT are declared but, as in many exome cohorts, empty). */
const CALLED = CONTIGS.slice(0, 23);
const BASES = ['A', 'C', 'G', 'T'];

/** Small, fast, seedable PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function header(samples: number): string {
  const lines = [
    '##fileformat=VCFv4.2',
    '##FILTER=<ID=PASS,Description="All filters passed">',
    '##FILTER=<ID=LowQual,Description="Low quality">',
    '##source=SyntheticJointCaller 1.0 (backbone benchmark generator)',
    '##reference=file:///references/GRCh38/GRCh38_full_analysis_set_plus_decoy_hla.fa',
    ...CONTIGS.map(([id, length]) => `##contig=<ID=${id},length=${length},assembly=GRCh38>`),
    '##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count in genotypes">',
    '##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">',
    '##INFO=<ID=AN,Number=1,Type=Integer,Description="Total number of alleles in called genotypes">',
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
    '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">',
  ];
  const names = Array.from({ length: samples }, (_, i) => `SYN${String(i + 1).padStart(5, '0')}`);
  lines.push(['#CHROM', 'POS', 'ID', 'REF', 'ALT', 'QUAL', 'FILTER', 'INFO', 'FORMAT', ...names].join('\t'));
  return `${lines.join('\n')}\n`;
}

/** Yields the data lines in chunks of about 1 MB of text. */
export function* records(options: GenerateOptions): Generator<string> {
  const rand = prng(options.seed ?? 1);
  const genomeLength = CALLED.reduce((s, [, l]) => s + l, 0);
  const n = options.records;
  const ns = options.samples;
  // Each chromosome gets records in proportion to its length.
  const perChrom = CALLED.map(([, l]) => Math.floor((n * l) / genomeLength));
  perChrom[0] = (perChrom[0] ?? 0) + n - perChrom.reduce((s, c) => s + c, 0);
  let out = '';
  let rsid = 1000000;
  for (let c = 0; c < CALLED.length; c++) {
    const [chrom, length] = CALLED[c] as [string, number];
    const count = perChrom[c] ?? 0;
    const isX = chrom === 'chrX';
    const step = Math.max(2, Math.floor((length - 100000) / Math.max(1, count)));
    let pos = 10000;
    for (let r = 0; r < count; r++) {
      pos += 1 + Math.floor(rand() * (2 * step - 2));
      const multi = rand() < 0.03;
      const indel = rand() < 0.12;
      const ref0 = BASES[Math.floor(rand() * 4)] as string;
      let ref = ref0;
      let alts: string[];
      if (indel) {
        const len = 1 + Math.floor(rand() * 4);
        let seq = '';
        for (let i = 0; i < len; i++) seq += BASES[Math.floor(rand() * 4)] as string;
        if (rand() < 0.5) {
          ref = ref0 + seq;
          alts = [ref0];
        } else alts = [ref0 + seq];
        if (multi) alts.push(ref0 + seq + seq);
      } else {
        const others = BASES.filter((b) => b !== ref0);
        const first = Math.floor(rand() * 3);
        alts = [others[first] as string];
        if (multi) alts.push(others[(first + 1 + Math.floor(rand() * 2)) % 3] as string);
      }
      // Allele frequency: mostly rare, some common; about 25 % of genotypes carry an ALT.
      const u = rand();
      const af = u < 0.45 ? 0.002 + rand() * 0.02 : u < 0.8 ? 0.05 + rand() * 0.2 : 0.25 + rand() * 0.6;
      const phasedRecord = rand() < 0.6;
      let ac = 0;
      let an = 0;
      let dpSum = 0;
      const fields: string[] = new Array<string>(ns);
      for (let s = 0; s < ns; s++) {
        const dp = 8 + Math.floor(rand() * 45);
        dpSum += dp;
        if (rand() < 0.01) {
          fields[s] = isX && s % 2 === 1 ? '.:0:.' : './.:0:.';
          continue;
        }
        const draw = (): number => {
          if (rand() >= af) return 0;
          return multi && rand() < 0.3 ? 2 : 1;
        };
        const gq = 20 + Math.floor(rand() * 80);
        if (isX && s % 2 === 1) {
          const a = draw();
          ac += a > 0 ? 1 : 0;
          an += 1;
          fields[s] = `${a}:${dp}:${gq}`;
        } else {
          let a = draw();
          let b = draw();
          ac += (a > 0 ? 1 : 0) + (b > 0 ? 1 : 0);
          an += 2;
          const phased = phasedRecord && s % 5 === 0 && a !== b;
          if (!phased && a > b) [a, b] = [b, a];
          fields[s] = `${a}${phased ? '|' : '/'}${b}:${dp}:${gq}`;
        }
      }
      const qual = (30 + rand() * 3000).toFixed(2);
      const filter = rand() < 0.08 ? 'LowQual' : 'PASS';
      const id = rand() < 0.55 ? `rs${rsid++}` : '.';
      const afText = an === 0 ? '0' : (ac / an).toPrecision(3);
      out += `${chrom}\t${pos}\t${id}\t${ref}\t${alts.join(',')}\t${qual}\t${filter}\tAC=${ac}${multi ? ',0' : ''};AF=${afText}${multi ? ',0' : ''};AN=${an};DP=${dpSum}\tGT:DP:GQ\t${fields.join('\t')}\n`;
      if (out.length >= 1 << 20) {
        yield out;
        out = '';
      }
    }
  }
  if (out !== '') yield out;
}

/** One BGZF block (RFC 1952 member with the 'BC' extra field), as bgzip writes it. */
export function bgzfBlock(data: Buffer, level = 6): Buffer {
  const deflated = deflateRawSync(data, { level });
  const block = Buffer.alloc(18 + deflated.length + 8);
  block.set([0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, 0x42, 0x43, 2, 0], 0);
  block.writeUInt16LE(block.length - 1, 16);
  deflated.copy(block, 18);
  block.writeUInt32LE(crc32(data), 18 + deflated.length);
  block.writeUInt32LE(data.length, 22 + deflated.length);
  return block;
}

export const BGZF_EOF = Buffer.from('1f8b08040000000000ff0600424302001b0003000000000000000000', 'hex');

/** Writes the VCF (plain or BGZF) to `file`; resolves with the bytes written. */
export async function writeVcf(file: string, options: GenerateOptions): Promise<number> {
  const out = createWriteStream(file);
  let bytes = 0;
  let pending: Buffer[] = [];
  let pendingLength = 0;
  const write = async (b: Buffer): Promise<void> => {
    bytes += b.length;
    if (!out.write(b)) await once(out, 'drain');
  };
  const push = async (text: string): Promise<void> => {
    if (options.bgzip !== true) return write(Buffer.from(text));
    pending.push(Buffer.from(text));
    pendingLength += Buffer.byteLength(text);
    if (pendingLength < 65280) return;
    const all = Buffer.concat(pending);
    let at = 0;
    for (; all.length - at >= 65280; at += 65280) await write(bgzfBlock(all.subarray(at, at + 65280)));
    pending = [all.subarray(at)];
    pendingLength = all.length - at;
  };
  await push(header(options.samples));
  for (const chunk of records(options)) await push(chunk);
  if (options.bgzip === true) {
    if (pendingLength > 0) await write(bgzfBlock(Buffer.concat(pending)));
    await write(BGZF_EOF);
  }
  out.end();
  await once(out, 'finish');
  return bytes;
}

/** Bytes per record of the plain text for this many samples (to size a file by gigabytes). */
export function bytesPerRecord(samples: number): number {
  let total = 0;
  let n = 0;
  for (const chunk of records({ records: 2000, samples, seed: 7 })) {
    total += Buffer.byteLength(chunk);
    n += chunk.split('\n').length - 1;
  }
  return total / n;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      records: { type: 'string', default: '220000' },
      samples: { type: 'string', default: '100' },
      seed: { type: 'string', default: '1' },
      gigabytes: { type: 'string' },
    },
  });
  const file = positionals[0];
  if (file === undefined) throw new Error('usage: vcf-generate.ts OUT.vcf[.gz] [--records N] [--samples N] [--gigabytes G]');
  const samples = Number(values.samples);
  const records = values.gigabytes === undefined ? Number(values.records) : Math.ceil((Number(values.gigabytes) * 1e9) / bytesPerRecord(samples));
  const bytes = await writeVcf(file, { records, samples, seed: Number(values.seed), bgzip: file.endsWith('.gz') });
  console.error(`${file}: ${records} records x ${samples} samples, ${(bytes / 1e6).toFixed(1)} MB`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
