/**
 * PGx calling benchmark: `npm run bench:pgx [-- --samples 1000 --gz]`.
 *
 * Generates a PGx-region VCF (every defining position of the ten genes plus unrelated records in
 * between, GRCh38) whose samples carry a random pair of named alleles per gene (seeded, so every run
 * writes the same file), 1 % no-calls and a tenth of the samples phased; then streams it through the
 * same path as `backbone pgx call` (read, keep PGx records, call ten genes, format TSV) and prints
 * samples per second and peak RSS. The goal is ≥ 1,000 samples/s.
 */
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import type { Writable } from 'node:stream';
import { CALLED_GENES, loadKnowledgeBase, type KnowledgeBase } from '../domain/pgx/index.ts';
import { alleleSequences } from '../domain/pgx/synthetic.ts';
import { callSample, readPgxVcf, tsvLines } from '../cli/pgx.ts';
import { peakRssMb } from '../platform/memory.ts';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Row {
  chrom: string;
  pos: number;
  id: string;
  ref: string;
  alts: string[];
  gene: string | null;
  index: number;
}

/** Writes the benchmark VCF; returns the number of records. */
export async function writeBenchVcf(path: string, kb: KnowledgeBase, samples: number, gzip: boolean, seed = 42): Promise<number> {
  const random = rng(seed);
  const rows: Row[] = [];
  for (const gene of CALLED_GENES) {
    const g = kb.genes[gene]!;
    g.positions.forEach(([pos, rsid, ref, alts], index) => {
      rows.push({ chrom: g.chrom, pos, id: rsid ?? '.', ref, alts, gene, index });
      rows.push({ chrom: g.chrom, pos: pos + 7, id: '.', ref: 'A', alts: ['G'], gene: null, index: -1 });
    });
  }
  const chromOrder = (c: string): number => Number(c) || 100;
  rows.sort((a, b) => chromOrder(a.chrom) - chromOrder(b.chrom) || a.pos - b.pos);
  const seen = new Set<string>();
  const unique = rows.filter((r) => {
    const k = `${r.chrom}:${r.pos}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  // Per sample and gene: two chromosomes' allele indices at every defining position.
  const haplotypes = new Map<string, number[][][]>();
  for (const gene of CALLED_GENES) {
    const g = kb.genes[gene]!;
    const seqs = g.alleles.map((_, a) => alleleSequences(g, a));
    const pick = (): number[] => {
      // Mostly the reference allele, as in real cohorts; otherwise any named allele.
      const a = random() < 0.6 ? 0 : Math.floor(random() * seqs.length);
      const options = seqs[a]!;
      return options[Math.floor(random() * options.length)]!;
    };
    haplotypes.set(gene, Array.from({ length: samples }, () => [pick(), pick()]));
  }
  const phased = Array.from({ length: samples }, () => random() < 0.1);
  const file = createWriteStream(path);
  const out: Writable = gzip ? createGzip() : file;
  if (gzip) out.pipe(file);
  const put = async (text: string): Promise<void> => {
    if (!out.write(text)) await once(out, 'drain');
  };
  const names = Array.from({ length: samples }, (_, s) => `S${String(s + 1).padStart(5, '0')}`);
  await put('##fileformat=VCFv4.2\n##source=backbone bench/pgx.ts\n##reference=GRCh38\n');
  await put('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n');
  await put(`#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t${names.join('\t')}\n`);
  for (const r of unique) {
    const cols: string[] = new Array<string>(samples);
    for (let s = 0; s < samples; s++) {
      if (random() < 0.01) cols[s] = './.';
      else if (r.gene === null) cols[s] = random() < 0.2 ? '0/1' : '0/0';
      else {
        const [h1, h2] = haplotypes.get(r.gene)![s]!;
        const x = h1![r.index]!;
        const y = h2![r.index]!;
        cols[s] = phased[s] ? `${x}|${y}` : x <= y ? `${x}/${y}` : `${y}/${x}`;
      }
    }
    await put(`chr${r.chrom}\t${r.pos}\t${r.id}\t${r.ref}\t${r.alts.length === 0 ? '.' : r.alts.join(',')}\t.\tPASS\t.\tGT\t${cols.join('\t')}\n`);
  }
  out.end();
  await once(file, 'close');
  return unique.length;
}

async function main(args: string[]): Promise<void> {
  const at = args.indexOf('--samples');
  const samples = at >= 0 ? Number(args[at + 1]) : 1000;
  const gzip = args.includes('--gz');
  const kb = loadKnowledgeBase();
  const dir = mkdtempSync(join(tmpdir(), 'pgx-bench-'));
  try {
    const path = join(dir, gzip ? 'bench.vcf.gz' : 'bench.vcf');
    const records = await writeBenchVcf(path, kb, samples, gzip);
    const size = statSync(path).size;
    console.log(`generated ${path}: ${samples} samples, ${records} records, ${(size / 1e6).toFixed(1)} MB${gzip ? ' (gzip)' : ''}`);
    const started = performance.now();
    const vcf = await readPgxVcf(path, kb);
    const read = performance.now();
    let bytes = 0;
    const options = { candidates: false, genes: CALLED_GENES };
    for (let s = 0; s < vcf.samples.length; s++) bytes += tsvLines(vcf.samples[s]!, callSample(vcf, s, kb, options), false).length;
    const done = performance.now();
    const seconds = (done - started) / 1000;
    console.log(`read + keep PGx records: ${((read - started) / 1000).toFixed(2)} s; call 10 genes + format: ${((done - read) / 1000).toFixed(2)} s; ${bytes} bytes of TSV`);
    console.log(`samples/s: ${Math.round(vcf.samples.length / seconds)} (${vcf.samples.length} samples, 10 genes, ${seconds.toFixed(2)} s end to end)`);
    console.log(`peak RSS: ${(peakRssMb() ?? process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main(process.argv.slice(2));
