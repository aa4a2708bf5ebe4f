/**
 * Synthetic genotypes with known truth, built straight from the allele definitions (independently
 * of the caller): every unordered pair of named alleles of a gene, unphased, with a genotype at
 * every defining position. Used by the exhaustive test, `scripts/pgx-exhaustive.ts` and the benchmark.
 */
import type { KbGene, KnowledgeBase } from './kb.ts';
import type { SiteGenotype } from './model.ts';

const IUPAC: Record<string, string> = {
  R: 'AG', Y: 'CT', S: 'CG', W: 'AT', K: 'GT', M: 'AC', B: 'CGT', D: 'AGT', H: 'ACT', V: 'ACG', N: 'ACGT',
};

/** How an IUPAC ("wobble") cell becomes a base: its non-reference base, or the reference base when it allows it. */
export type WobbleRealisation = 'variant' | 'reference';

/** Every concrete sequence the allele allows, as VCF allele indices per defining position. */
export function alleleSequences(gene: KbGene, allele: number): number[][] {
  const entry = gene.alleles[allele];
  if (entry === undefined) throw new RangeError(`${gene.gene}: no allele ${allele}`);
  let seqs: number[][] = [[]];
  gene.positions.forEach(([pos, , ref, alts], i) => {
    const table = [ref, ...alts];
    const cell = entry[1][i] ?? null;
    let options: number[];
    if (cell === null) options = [0];
    else if (table.includes(cell)) options = [table.indexOf(cell)];
    else {
      const bases = IUPAC[cell] ?? '';
      options = table.map((b, k) => (bases.includes(b) ? k : -1)).filter((k) => k >= 0);
      if (options.length === 0) throw new RangeError(`${gene.gene} ${entry[0]}: cell ${cell} matches no base at ${pos}`);
    }
    seqs = seqs.flatMap((seq) => options.map((k) => [...seq, k]));
  });
  return seqs;
}

/** The allele's sequence with each wobble realised as `wobble` says. */
export function alleleSequence(gene: KbGene, allele: number, wobble: WobbleRealisation = 'variant'): number[] {
  const all = alleleSequences(gene, allele);
  const pick = wobble === 'reference' ? all.reduce((a, b) => (sumOf(b) < sumOf(a) ? b : a)) : all.reduce((a, b) => (variants(b) > variants(a) ? b : a));
  return pick;
}

const sumOf = (seq: number[]): number => seq.reduce((n, k) => n + k, 0);
const variants = (seq: number[]): number => seq.filter((k) => k > 0).length;

const genotypeKey = (sa: number[], sb: number[]): string =>
  sa.map((x, i) => {
    const y = sb[i]!;
    return x <= y ? `${x}/${y}` : `${y}/${x}`;
  }).join(' ');

export interface SyntheticPair {
  gene: string;
  truth: [string, string];
  /** Unphased genotype at every defining position ("a/b" per position with a <= b), for grouping. */
  key: string;
  /** Every genotype this pair can produce (several when an allele has wobble cells). */
  producible: string[];
  sites: SiteGenotype[];
}

/** Every unordered pair (with repetition) of the gene's named alleles, in definition order. */
export function allelePairs(kb: KnowledgeBase, geneName: string, wobble: WobbleRealisation = 'variant'): SyntheticPair[] {
  const gene = kb.genes[geneName];
  if (gene === undefined) throw new RangeError(`no gene ${geneName}`);
  const all = gene.alleles.map((_, a) => alleleSequences(gene, a));
  const seqs = gene.alleles.map((_, a) => alleleSequence(gene, a, wobble));
  const out: SyntheticPair[] = [];
  for (let a = 0; a < seqs.length; a++) {
    for (let b = a; b < seqs.length; b++) {
      const sa = seqs[a]!;
      const sb = seqs[b]!;
      const producible = new Set<string>();
      for (const xa of all[a]!) for (const xb of all[b]!) producible.add(genotypeKey(xa, xb));
      out.push({
        gene: gene.gene,
        truth: [gene.alleles[a]![0], gene.alleles[b]![0]],
        key: genotypeKey(sa, sb),
        producible: [...producible],
        sites: gene.positions.map(([pos, , ref, alts], i) => {
          const x = sa[i]!;
          const y = sb[i]!;
          return { chrom: gene.chrom, pos, ref, alts, gt: x <= y ? [x, y] : [y, x], phased: false, phaseSet: null };
        }),
      });
    }
  }
  return out;
}

/** Generated genotypes no other pair shares (same generated genotype). */
export function uniqueKeys(pairs: readonly SyntheticPair[]): Set<string> {
  const count = new Map<string, number>();
  for (const p of pairs) count.set(p.key, (count.get(p.key) ?? 0) + 1);
  return new Set([...count].filter(([, c]) => c === 1).map(([k]) => k));
}

/** Pairs (by index) whose generated genotype no other pair can produce, whatever its wobble cells carry. */
export function uniqueAnyRealisation(pairs: readonly SyntheticPair[]): Set<number> {
  const producers = new Map<string, number>();
  for (const p of pairs) for (const k of p.producible) producers.set(k, (producers.get(k) ?? 0) + 1);
  const out = new Set<number>();
  pairs.forEach((p, i) => {
    if (producers.get(p.key) === 1) out.add(i);
  });
  return out;
}

export interface ExhaustiveScore {
  gene: string;
  wobble: WobbleRealisation;
  pairs: number;
  /** Pairs whose generated genotype no other pair's generated genotype equals. */
  unique: number;
  /** Pairs whose generated genotype no other pair can produce under any wobble realisation. */
  uniqueAnyWobble: number;
  /** First-listed diplotype equals the truth. */
  topCorrect: number;
  topCorrectUnique: number;
  topCorrectUniqueAnyWobble: number;
  truthInCandidates: number;
  /** Up to 10 pairs the caller got wrong (a unique pair's top call, or truth not among candidates). */
  misses: { truth: string; top: string; unique: boolean; inCandidates: boolean }[];
}

const samePair = (a: readonly string[], b: readonly string[]): boolean =>
  (a[0] === b[0] && a[1] === b[1]) || (a[0] === b[1] && a[1] === b[0]);

/**
 * Runs `call` (the caller under test, with candidates) on every allele pair of `gene` and scores it
 * against the generated truth.
 */
export function scoreExhaustive(
  kb: KnowledgeBase,
  gene: string,
  call: (sites: SiteGenotype[]) => { diplotypes: { alleles: [string, string] }[]; candidates: { alleles: [string, string] }[] },
  wobble: WobbleRealisation = 'variant',
): ExhaustiveScore {
  const pairs = allelePairs(kb, gene, wobble);
  const unique = uniqueKeys(pairs);
  const strict = uniqueAnyRealisation(pairs);
  const score: ExhaustiveScore = {
    gene, wobble, pairs: pairs.length, unique: 0, uniqueAnyWobble: strict.size,
    topCorrect: 0, topCorrectUnique: 0, topCorrectUniqueAnyWobble: 0, truthInCandidates: 0, misses: [],
  };
  pairs.forEach((p, index) => {
    const isUnique = unique.has(p.key);
    if (isUnique) score.unique++;
    const result = call(p.sites);
    const top = result.diplotypes[0]?.alleles;
    const right = top !== undefined && samePair(top, p.truth);
    const found = right || result.candidates.some((c) => samePair(c.alleles, p.truth));
    if (right) score.topCorrect++;
    if (right && isUnique) score.topCorrectUnique++;
    if (right && strict.has(index)) score.topCorrectUniqueAnyWobble++;
    if (found) score.truthInCandidates++;
    if (((!right && isUnique) || !found) && score.misses.length < 10) {
      score.misses.push({ truth: p.truth.join('/'), top: top?.join('/') ?? 'not called', unique: isUnique, inCandidates: found });
    }
  });
  return score;
}
