/**
 * A JIT warm-up for the record scanner: a small VCF with the record shapes of real files is scanned
 * once per process before the first real file, and its events are thrown away.
 *
 * Why: V8 collects type feedback for a function only after its first few calls, then optimises it
 * with the paths seen so far. A path first taken after that, such as the first change of chromosome
 * or FILTER, or the first multi-allelic site, discards the optimised code. The scan then runs
 * unoptimised until V8 recompiles it: two or three times per file, ~20-40 ms each. The warm-up takes
 * those paths while feedback is already being collected, so the scan of the file no longer
 * deoptimises. On the 1-sample benchmark file, `backbone vcf publish` took 23 ms less (median of
 * 10 interleaved runs each, 337 vs 360 ms), before the WebAssembly fast path took most records. It
 * now prepares record() for the files and records that path leaves to it (gVCF, PGx positions,
 * multi-digit alleles and other rarer shapes). It does not change any event of the real file.
 */
import { VcfParser, type VcfStats } from './core.ts';
import type { PgxPositionIndex } from './pgx-positions.ts';

let warmed = false;

/**
 * Records of a file that record() reads before the warm-up runs. Most files' records go the fast
 * path, and record() never becomes hot: the warm-up (~9 ms) would be wasted there. Before V8
 * optimises record() (after ~10,000 records), the warm-up still comes in time.
 */
export const WARM_UP_AFTER = 1000;

/** Runs the warm-up once record() has read WARM_UP_AFTER records of the file being scanned. */
export function warmUpIfNeeded(stats: VcfStats, pgx: PgxPositionIndex | undefined): void {
  if (!warmed && stats.records - stats.fastRecords >= WARM_UP_AFTER) warmUpScanner(pgx);
}

/** Scans the warm-up VCF once per process; later calls return at once. Never throws. */
export function warmUpScanner(pgx: PgxPositionIndex | undefined): void {
  if (warmed) return;
  warmed = true;
  try {
    scanWarmUp(pgx);
  } catch {
    // Only a speed-up: a warm-up that fails (the unit tests scan the same VCF) must not fail a publish.
  }
}

/** Scans the warm-up VCF as a file arrives, in pieces; its events are dropped. Returns what was rejected. */
export function scanWarmUp(pgx: PgxPositionIndex | undefined): { records: number; rejected: number; events: number } {
  const parser = new VcfParser({
    facts: { sha256: '0'.repeat(64), sourceId: 'warm-up', lab: null, ingestedAt: 0, pipelineVersion: 'warm-up' },
    mapping: { kind: 'keyed-hash', key: 'warm-up' },
    ...(pgx === undefined ? {} : { pgx }),
    wireHeaders: { calls: Buffer.alloc(5), block: Buffer.alloc(5) },
    fastPath: false, // every record through record(), which is what is warmed up
  });
  // In pieces cut mid-line, as a file arrives: a line carried over from one chunk to the next is a
  // path of its own.
  const text = Buffer.from(warmUpVcf(pgx), 'latin1');
  const cuts = [0, Math.floor(text.length / 3), Math.floor(text.length / 3) + 7, Math.floor((text.length * 2) / 3), text.length];
  let rejected = 0;
  let events = 0;
  for (let i = 1; i < cuts.length; i++) {
    parser.push(text.subarray(cuts[i - 1], cuts[i]));
    const out = parser.take();
    rejected += out.rejected.length;
    events += out.events.length;
  }
  parser.end();
  const out = parser.take();
  return { records: parser.stats.records, rejected: rejected + out.rejected.length, events: events + out.events.length };
}

/** Two samples, GRCh38; ordinary records first (so feedback is being collected), then the rarer shapes. */
export function warmUpVcf(pgx: PgxPositionIndex | undefined): string {
  const header = [
    '##fileformat=VCFv4.2',
    '##FILTER=<ID=PASS,Description="All filters passed">',
    '##FILTER=<ID=LowQual,Description="Low quality">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
    '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">',
    '##FORMAT=<ID=PS,Number=1,Type=Integer,Description="Phase set">',
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="Total depth">',
    '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations">',
    '##contig=<ID=chr1,length=248956422,assembly=GRCh38>',
    '##contig=<ID=chr2,length=242193529,assembly=GRCh38>',
    '##contig=<ID=chr10,length=133797422,assembly=GRCh38>',
    '##contig=<ID=chrX,length=156040895,assembly=GRCh38>',
    '#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2',
  ];
  const genotypes = ['0/0:31:99\t0/1:28:87', '0/1:40:99\t0/0:22:60', '1|0:35:71\t0/0:30:99', '1/1:18:45\t./.:.:.', '0/0:44:99\t1/1:25:70'];
  const filters = ['PASS', 'PASS', 'LowQual', 'PASS', '.'];
  const records: string[] = [];
  for (let i = 0; i < 16; i++) {
    records.push(
      `chr1\t${100_000 + i * 7_919}\t${i % 3 === 0 ? '.' : `rs${7_000_000 + i}`}\t${'ACGT'[i % 4]}\t${'GTAC'[i % 4]}\t${(i * 37.31 + 20).toFixed(2)}\t` +
        `${filters[i % filters.length]}\tDP=${40 + i}\tGT:DP:GQ\t${genotypes[i % genotypes.length]}`,
    );
  }
  records.push(
    'chr1\t260000\t.\tG\tC,T\t812.5\tPASS\tDP=60\tGT:DP:GQ\t1/2:30:80\t0/2:30:80',
    'chr1\t261000\trs7100001\tCTG\tC\t.\tPASS\tDP=50\tGT:DP:GQ\t0/1:25:70\t0/0:25:99',
    `chr1\t262000\t.\tA\tG\t99\tPASS\tDP=48;CSQ=${'G|missense_variant|MODERATE|GENE1|ENSG000001|Transcript|ENST000001|protein_coding,'.repeat(3)}\tGT:DP:GQ\t0/1:20:60\t0/0:20:60`,
    'chr1\t263000\t.\tT\tC\t120\tPASS\tDP=30\tGT:DP:GQ:PS\t0|1:15:50:263000\t1|1:15:50:263000',
    'chr1\t264000\t.\tA\tT\t77\tLowQual;SB\t.\tGT\t0/1\t0/.',
  );
  // A record at a PGx defining position (its calls are kept whatever the genotype).
  const position = pgx?.within('10', 1, Number.MAX_SAFE_INTEGER)[0];
  if (position !== undefined && position.alts[0] !== undefined) {
    records.push(`chr10\t${position.pos}\t${position.rsid ?? '.'}\t${position.ref}\t${position.alts[0]}\t50\tPASS\tDP=40\tGT:DP:GQ\t0/0:20:99\t0/1:20:99`);
  }
  for (let i = 0; i < 4; i++) records.push(`chr2\t${50_000 + i * 1_000}\t.\tC\tT\t60\tPASS\tDP=30\tGT:DP:GQ\t${genotypes[i]}`);
  records.push('chrX\t2800000\t.\tG\tA\t90\tPASS\tDP=20\tGT:DP:GQ\t1:20:90\t0/1:20:90');
  return `${header.join('\n')}\n${records.join('\n')}\n`;
}
