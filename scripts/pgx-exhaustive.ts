/**
 * Prints the exhaustive allele-pair table: for each called gene, every unordered pair of named
 * alleles as an unphased genotype at every defining position, called and compared with the truth.
 *
 *   node --import tsx scripts/pgx-exhaustive.ts [--wobble variant|reference] [--json]
 *
 * "unique" pairs are those whose genotype no other pair shares; the first-listed call can only be
 * right for all of them (the information limit). With --wobble reference, an IUPAC cell is realised
 * as its reference base, which makes a few genotypes producible by another pair (e.g. CYP2C19
 * *2/*11 with *2's R cell as G equals *1/*2 with it as A): the "unique, any wobble" column excludes those.
 */
import { CALLED_GENES, callGenes, loadKnowledgeBase } from '../domain/pgx/index.ts';
import { scoreExhaustive, type ExhaustiveScore, type WobbleRealisation } from '../domain/pgx/synthetic.ts';

const args = process.argv.slice(2);
const wobbleAt = args.indexOf('--wobble');
const wobble = (wobbleAt >= 0 ? args[wobbleAt + 1] : 'variant') as WobbleRealisation;
if (wobble !== 'variant' && wobble !== 'reference') {
  console.error('usage: node --import tsx scripts/pgx-exhaustive.ts [--wobble variant|reference] [--json]');
  process.exit(2);
}
const kb = loadKnowledgeBase();
const pct = (n: number, d: number): string => (d === 0 ? '-' : `${((100 * n) / d).toFixed(2)} %`);
const started = performance.now();
const rows: ExhaustiveScore[] = CALLED_GENES.map((gene) =>
  scoreExhaustive(kb, gene, (sites) => callGenes(sites, kb, { candidates: true, genes: [gene] })[0]!, wobble),
);
const seconds = (performance.now() - started) / 1000;
if (args.includes('--json')) {
  console.log(JSON.stringify({ knowledgeBase: kb.version, wobble, rows }, null, 2));
} else {
  const header = ['gene', 'pairs', 'unique', 'top call', 'top (unique)', 'truth in candidates', 'unique, any wobble', 'top (those)'];
  const line = (label: string, rs: ExhaustiveScore[]): string[] => {
    const sum = (f: (r: ExhaustiveScore) => number): number => rs.reduce((n, r) => n + f(r), 0);
    return [
      label,
      String(sum((r) => r.pairs)),
      String(sum((r) => r.unique)),
      pct(sum((r) => r.topCorrect), sum((r) => r.pairs)),
      pct(sum((r) => r.topCorrectUnique), sum((r) => r.unique)),
      pct(sum((r) => r.truthInCandidates), sum((r) => r.pairs)),
      String(sum((r) => r.uniqueAnyWobble)),
      pct(sum((r) => r.topCorrectUniqueAnyWobble), sum((r) => r.uniqueAnyWobble)),
    ];
  };
  const lines = rows.map((r) => line(r.gene, [r]));
  lines.push(line('9 genes (no DPYD)', rows.filter((r) => r.gene !== 'DPYD')), line('all 10', rows));
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cols: string[]): string => cols.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(fmt(header));
  for (const l of lines) console.log(fmt(l));
  for (const r of rows) {
    for (const m of r.misses) {
      console.log(`miss ${r.gene}: truth ${m.truth}, first call ${m.top}${m.unique ? ' (unique genotype)' : ''}${m.inCandidates ? '' : ', truth not among candidates'}`);
    }
  }
  console.log(`(wobble cells realised as ${wobble} bases; knowledge base ${kb.version}; ${seconds.toFixed(1)} s)`);
}
