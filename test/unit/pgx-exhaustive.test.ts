/**
 * Exhaustive allele-pair test: every unordered pair of named alleles of every called gene, as an
 * unphased genotype at every defining position (truth generated from the definitions, not by the
 * caller). The first-listed call must be right for every pair whose genotype no other pair shares,
 * and the truth must always be among the candidates.
 */
import { describe, expect, it } from 'vitest';
import { CALLED_GENES, callGenes, loadKnowledgeBase } from '../../domain/pgx/index.ts';
import { allelePairs, scoreExhaustive, uniqueKeys, type ExhaustiveScore, type WobbleRealisation } from '../../domain/pgx/synthetic.ts';

const kb = loadKnowledgeBase();

function table(rows: ExhaustiveScore[]): string {
  const pct = (n: number, d: number): string => `${((100 * n) / d).toFixed(2)}%`;
  return rows
    .map((r) => `${r.gene.padEnd(8)} pairs ${String(r.pairs).padStart(5)}  unique ${String(r.unique).padStart(5)}  top ${pct(r.topCorrect, r.pairs).padStart(7)}  top(unique) ${pct(r.topCorrectUnique, r.unique).padStart(7)}  truth in candidates ${pct(r.truthInCandidates, r.pairs).padStart(7)}`)
    .join('\n');
}

describe('exhaustive allele pairs', () => {
  it('the generator yields 7,297 pairs for the nine non-DPYD genes, 35 of them beyond the information limit', () => {
    let pairs = 0;
    let beyond = 0;
    for (const gene of CALLED_GENES.filter((g) => g !== 'DPYD')) {
      const ps = allelePairs(kb, gene);
      const groups = new Set(ps.map((p) => p.key)).size;
      pairs += ps.length;
      beyond += ps.length - groups;
      expect(uniqueKeys(ps).size).toBeLessThanOrEqual(groups);
    }
    expect(pairs).toBe(7297);
    expect(beyond).toBe(35);
  });

  for (const wobble of ['variant', 'reference'] as WobbleRealisation[]) {
    it(`every gene at the information limit (wobble cells realised as ${wobble} bases)`, () => {
      const rows = CALLED_GENES.map((gene) =>
        scoreExhaustive(kb, gene, (sites) => callGenes(sites, kb, { candidates: true, genes: [gene] })[0]!, wobble),
      );
      console.log(`exhaustive allele pairs, wobble = ${wobble}\n${table(rows)}`);
      for (const r of rows) {
        expect(r.truthInCandidates, `${r.gene} truth among candidates`).toBe(r.pairs);
        // Pairs no other pair can produce, whatever the wobble cells carry: the first call is always right.
        expect(r.topCorrectUniqueAnyWobble, `${r.gene} first call on unique genotypes (any wobble)`).toBe(r.uniqueAnyWobble);
        if (wobble === 'variant') expect(r.topCorrectUnique, `${r.gene} first call on unique genotypes: ${JSON.stringify(r.misses)}`).toBe(r.unique);
      }
      const nine = rows.filter((r) => r.gene !== 'DPYD');
      const top = nine.reduce((n, r) => n + r.topCorrect, 0);
      const pairs = nine.reduce((n, r) => n + r.pairs, 0);
      // The limit: one pair of each set of pairs with identical genotypes can be right.
      if (wobble === 'variant') expect(top).toBe(pairs - 35);
    });
  }
});
