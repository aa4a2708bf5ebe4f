/**
 * Writes demo/pgx-panel.vcf: a GRCh38 multi-sample PGx panel with a genotype at every defining
 * position of the ten called genes, built from the allele definitions in the committed knowledge base
 * (so the expected calls are known), plus a few ordinary variants, one untested position and one
 * malformed record. Run: node --import tsx scripts/make-demo-vcf.ts
 */
import { writeFileSync } from 'node:fs';
import { loadKnowledgeBase } from '../domain/pgx/index.ts';

const kb = loadKnowledgeBase();
const IUPAC: Record<string, string[]> = { R: ['A', 'G'], Y: ['C', 'T'], S: ['G', 'C'], W: ['A', 'T'], K: ['G', 'T'], M: ['A', 'C'] };

/** Sample → diplotypes of the genes that differ from the reference; everything else is hom-ref. */
const SAMPLES: { sample: string; diplotypes: Record<string, [string, string]>; untested?: string[] }[] = [
  { sample: 'LAB-S01', diplotypes: {} },
  { sample: 'LAB-S02', diplotypes: { CYP2C19: ['*2', '*2'] } },
  { sample: 'LAB-S03', diplotypes: { CYP2C19: ['*1', '*17'], SLCO1B1: ['*5', '*5'] } },
  { sample: 'LAB-S04', diplotypes: { DPYD: ['Reference', 'c.1905+1G>A (*2A)'] } },
  { sample: 'LAB-S05', diplotypes: { TPMT: ['*1', '*3A'], CYP2C19: ['*1', '*2'] } },
  { sample: 'LAB-S06', diplotypes: { CYP2C9: ['*1', '*3'], VKORC1: ['rs9923231 reference (C)', 'rs9923231 variant (T)'] } },
  { sample: 'LAB-S07', diplotypes: { CYP2C19: ['*1', '*2'] }, untested: ['rs12248560'] },
  { sample: 'LAB-S08', diplotypes: { NUDT15: ['*1', '*3'], CYP3A5: ['*3', '*3'] } },
];

interface Row { chrom: string; pos: number; id: string; ref: string; alts: string[]; gts: string[] }

function base(cell: string | null | undefined, ref: string): string {
  if (cell === null || cell === undefined) return ref;
  const options = IUPAC[cell];
  return options === undefined ? cell : (options.find((b) => b !== ref) ?? ref);
}

const rows: Row[] = [];
for (const g of Object.values(kb.genes)) {
  g.positions.forEach(([pos, rsid, ref, alts], i) => {
    const gts = SAMPLES.map(({ diplotypes, untested }) => {
      if (rsid !== null && untested?.includes(rsid)) return './.';
      const d = diplotypes[g.gene];
      if (d === undefined) return '0/0';
      const cells = d.map((name) => g.alleles.find(([n]) => n === name)?.[1]);
      if (cells.some((c) => c === undefined)) throw new Error(`${g.gene}: unknown allele in ${d.join('/')}`);
      const idx = cells.map((c) => {
        const b = base(c?.[i], ref);
        return b === ref ? 0 : alts.indexOf(b) + 1;
      });
      if (idx.some((x) => x < 0)) throw new Error(`${g.gene} ${d.join('/')}: base not in ALT at ${pos}`);
      return idx.sort((a, b) => a - b).join('/');
    });
    rows.push({ chrom: g.chrom, pos, id: rsid ?? '.', ref, alts: alts.filter((a) => a !== '<DEL>' && !a.startsWith('<')), gts });
  });
}
// Ordinary variants outside the PGx positions: they reach variant_calls but not the PGx caller.
rows.push({ chrom: '17', pos: 43045712, id: 'rs80357906', ref: 'T', alts: ['TG'], gts: SAMPLES.map((_, i) => (i === 4 ? '0/1' : '0/0')) });
rows.push({ chrom: 'X', pos: 154536002, id: 'rs1050828', ref: 'C', alts: ['T'], gts: SAMPLES.map((_, i) => (i === 2 ? '1' : '0')) });
rows.sort((a, b) => (a.chrom === b.chrom ? a.pos - b.pos : chromOrder(a.chrom) - chromOrder(b.chrom)));

function chromOrder(c: string): number {
  return c === 'X' ? 23 : c === 'Y' ? 24 : Number(c);
}

const header = [
  '##fileformat=VCFv4.2',
  '##fileDate=20261120',
  '##source=demo PGx panel (targeted sequencing), Genomics Core Lab',
  '##reference=GRCh38',
  ...[...new Set(rows.map((r) => r.chrom))].map((c) => `##contig=<ID=chr${c},assembly=GRCh38>`),
  '##FILTER=<ID=PASS,Description="All filters passed">',
  '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
  '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
  `#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t${SAMPLES.map((s) => s.sample).join('\t')}`,
];
const body = rows.map((r, n) => {
  const alt = r.alts.length === 0 ? '.' : r.alts.join(',');
  return `chr${r.chrom}\t${r.pos}\t${r.id}\t${r.ref}\t${alt}\t${50 + (n % 50)}\tPASS\t.\tGT:DP\t${r.gts.map((gt, i) => `${gt}:${30 + ((n + i) % 25)}`).join('\t')}`;
});
// One malformed record (a non-numeric position): dead-lettered with its line number, the rest goes on.
body.splice(Math.floor(body.length / 2), 0, `chr10\tnot-a-position\t.\tG\tA\t50\tPASS\t.\tGT:DP\t${SAMPLES.map(() => '0/1:30').join('\t')}`);
writeFileSync(new URL('../demo/pgx-panel.vcf', import.meta.url), `${[...header, ...body].join('\n')}\n`);
writeFileSync(
  new URL('../demo/samples.tsv', import.meta.url),
  `# lab sample id\tpseudonymous patient id\n${SAMPLES.map((s, i) => `${s.sample}\tPT-${String(i + 1).padStart(4, '0')}`).join('\n')}\n`,
);
console.log(`demo/pgx-panel.vcf: ${rows.length} records x ${SAMPLES.length} samples; demo/samples.tsv`);
