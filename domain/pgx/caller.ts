/**
 * Star-allele diplotype calling from genotypes (pure). The rules, in order:
 *
 * 1. A defining position absent from the input, with a no-call (`./.`, `0/.`), a non-diploid call or
 *    a REF that differs from the definition is missing data — never reference.
 * 2. A named allele is its definition with the reference base wherever a cell is empty; an IUPAC
 *    cell allows any of its bases. Missing positions are dropped from every allele; an allele's
 *    score is the number of its defined cells still observed, and an allele left with score 0
 *    cannot be called.
 * 3. Homozygous sites and sites phased within one phase set are fixed; every unphased heterozygous
 *    site (and every phase set) may go either way. A diplotype (A, B) fits when some such
 *    orientation puts a sequence A allows on one chromosome and one B allows on the other at
 *    every observed site.
 * 4. Fitting diplotypes are ranked by score (sum of both alleles' scores), then by the definition
 *    order of their alleles. Every diplotype tied at the best score is reported (status
 *    `ambiguous`); lower-scoring fits are candidates, and those with another phenotype are named in
 *    a warning, so an unphased cis/trans ambiguity is never hidden.
 * 5. An ALT that no allele describes blocks the gene (`not_called`), except for genes whose
 *    definition says to read it as reference (DPYD, NUDT15, TPMT).
 * 6. DPYD when no pair fits (several variants per chromosome, or more than two): lowest-function —
 *    the variants found are listed and the two lowest-function ones (per chromosome when phased)
 *    give the diplotype and activity score, as CPIC recommends.
 * 7. SLCO1B1 when no star-allele diplotype fits: the phenotype comes from rs4149056 alone.
 */
import { InvalidInputError } from '../../platform/errors.ts';
import { compiled, type CompiledGene } from './compiled.ts';
import type { KnowledgeBase } from './kb.ts';
import { CALLED_GENES, type CallOptions, type Diplotype, type GeneCall, type SiteGenotype } from './model.ts';

const stripChr = (chrom: string): string => (chrom.length > 3 && (chrom[0] === 'c' || chrom[0] === 'C') ? chrom.replace(/^chr/i, '') : chrom);

/** Sites by chromosome, then position (no "chrom:pos" strings to build); several records at one position are kept for conflict checks. */
type SiteIndex = Map<string, Map<number, SiteGenotype[]>>;

function indexSites(sites: readonly SiteGenotype[]): SiteIndex {
  const map: SiteIndex = new Map();
  for (const site of sites) {
    const chrom = stripChr(site.chrom);
    let byPos = map.get(chrom);
    if (byPos === undefined) {
      byPos = new Map();
      map.set(chrom, byPos);
    }
    const list = byPos.get(site.pos);
    if (list === undefined) byPos.set(site.pos, [site]);
    else list.push(site);
  }
  return map;
}

/** Calls the ten genes (or options.genes) for one sample. */
export function callGenes(sites: readonly SiteGenotype[], kb: KnowledgeBase, options: CallOptions = {}): GeneCall[] {
  const c = compiled(kb);
  const index = indexSites(sites);
  const genes = options.genes ?? CALLED_GENES;
  return genes.map((gene) => {
    const cg = c.genes.get(gene);
    if (cg === undefined) throw new InvalidInputError(`PGx: gene ${gene} is not called from genotypes (called: ${[...c.genes.keys()].join(', ')})`);
    return callGene(cg, index, options.candidates === true);
  });
}

interface Observation {
  /** Base index per chromosome, -1 = missing. */
  s1: Int8Array;
  s2: Int8Array;
  phased: Uint8Array;
  phaseSet: (number | null)[];
  present: number[];
  missing: string[];
  missingReasons: Map<string, number>;
  novel: boolean;
  warnings: string[];
  extras: Record<string, string>;
}

function pickSite(list: SiteGenotype[] | undefined, label: string, warnings: string[]): SiteGenotype | undefined {
  if (list === undefined || list.length === 0) return undefined;
  if (list.length === 1) return list[0];
  const called = list.filter((s) => s.gt.length > 0 && s.gt.every((g) => g !== null));
  const variant = called.filter((s) => s.gt.some((g) => g !== 0));
  if (variant.length === 1) return variant[0];
  if (variant.length === 0) return called[0] ?? list[0];
  warnings.push(`${label}: ${list.length} conflicting records at one position; treated as missing`);
  return { ...list[0]!, gt: [null, null] };
}

function observe(cg: CompiledGene, sites: SiteIndex): Observation {
  const n = cg.n;
  const o: Observation = {
    s1: new Int8Array(n).fill(-1),
    s2: new Int8Array(n).fill(-1),
    phased: new Uint8Array(n),
    phaseSet: new Array<number | null>(n).fill(null),
    present: [],
    missing: [],
    missingReasons: new Map(),
    novel: false,
    warnings: [],
    extras: {},
  };
  const miss = (i: number, reason: string): void => {
    o.missing.push(cg.labels[i] ?? '');
    o.missingReasons.set(reason, (o.missingReasons.get(reason) ?? 0) + 1);
  };
  const here = sites.get(cg.chrom);
  for (let i = 0; i < n; i++) {
    const label = cg.labels[i] ?? '';
    const site = pickSite(here?.get(cg.positions[i]!), label, o.warnings);
    if (site === undefined) {
      miss(i, 'not in the input');
      continue;
    }
    const table = cg.bases[i] ?? [];
    if (site.ref.toUpperCase() !== table[0]) {
      miss(i, 'REF differs from the definition');
      o.warnings.push(`${label}: REF ${site.ref} differs from the definition's ${table[0]}; treated as missing`);
      continue;
    }
    const gt = site.gt;
    if (gt.length !== 2 || gt[0] === null || gt[1] === null || gt[0] === undefined || gt[1] === undefined) {
      miss(i, gt.length === 2 || gt.some((g) => g === null) ? 'no-call' : 'not a diploid call');
      continue;
    }
    const idx: number[] = [];
    let bad = false;
    for (const g of [gt[0], gt[1]]) {
      const allele = g === 0 ? site.ref : site.alts[g - 1];
      if (allele === undefined) {
        bad = true;
        break;
      }
      const upper = allele.toUpperCase();
      let k = table.indexOf(upper);
      if (k < 0 || ((cg.used[i] ?? 0) & (1 << k)) === 0) {
        if (cg.kb.novelAltAsReference) {
          o.warnings.push(`${label}: ALT ${allele} is not described by any ${cg.gene} allele; read as reference`);
          k = 0;
        } else {
          o.warnings.push(`${label}: ALT ${allele} is not described by any ${cg.gene} allele; the gene cannot be called`);
          o.novel = true;
        }
      }
      idx.push(k);
    }
    if (bad) {
      miss(i, 'allele index out of range');
      o.warnings.push(`${label}: genotype refers to an ALT the record does not list; treated as missing`);
      continue;
    }
    o.s1[i] = idx[0] ?? -1;
    o.s2[i] = idx[1] ?? -1;
    o.phased[i] = site.phased ? 1 : 0;
    o.phaseSet[i] = site.phaseSet;
    o.present.push(i);
  }
  for (const [pos, [label, ref, alts]] of cg.extras) {
    const site = here?.get(pos)?.[0];
    if (site === undefined || site.ref.toUpperCase() !== ref || site.gt.length !== 2) continue;
    const bases = site.gt.map((g) => (g === null ? undefined : g === 0 ? site.ref : site.alts[g - 1]));
    if (bases.every((b) => b !== undefined && (b.toUpperCase() === ref || alts.includes(b.toUpperCase())))) o.extras[label] = bases.join('/');
  }
  return o;
}

/** Het sites grouped into orientation blocks: each unphased het site alone, phased ones per phase set. */
function blocksOf(o: Observation): number[][] {
  const blocks: number[][] = [];
  const byPhaseSet = new Map<string, number[]>();
  for (const i of o.present) {
    if (o.s1[i] === o.s2[i]) continue;
    if (o.phased[i] === 0) {
      blocks.push([i]);
      continue;
    }
    const key = String(o.phaseSet[i]);
    const block = byPhaseSet.get(key);
    if (block === undefined) {
      const fresh = [i];
      byPhaseSet.set(key, fresh);
      blocks.push(fresh);
    } else block.push(i);
  }
  return blocks;
}

function diplotype(cg: CompiledGene, a: number, b: number, score: number): Diplotype {
  const [x, y] = a <= b ? [a, b] : [b, a];
  const na = cg.names[x] ?? '';
  const nb = cg.names[y] ?? '';
  return { name: `${na}/${nb}`, alleles: [na, nb], score };
}

function phenotypeOfPair(cg: CompiledGene, a: number, b: number): [string, string | null] | undefined {
  return cg.phenotypeByPair?.get(a <= b ? `${a},${b}` : `${b},${a}`);
}

interface Fit {
  a: number;
  b: number;
  score: number;
}

function fits(cg: CompiledGene, o: Observation, blocks: number[][]): { fits: Fit[]; scores: number[] } {
  const nAlleles = cg.names.length;
  const scores = new Array<number>(nAlleles).fill(0);
  const complete = o.missing.length === 0;
  // Bases seen per position, and the positions where neither chromosome carries REF: an allele is
  // compatible when each of its variant cells and each such position allows a seen base (elsewhere
  // REF is seen and every other cell allows REF).
  const seen = new Uint8Array(cg.n);
  const nonRef: number[] = [];
  for (const i of o.present) {
    seen[i] = (1 << o.s1[i]!) | (1 << o.s2[i]!);
    if (o.s1[i]! > 0 && o.s2[i]! > 0) nonRef.push(i);
  }
  const compatible: number[] = [];
  for (let a = 0; a < nAlleles; a++) {
    const mask = cg.masks[a]!;
    let ok = true;
    for (const [i, m] of cg.variantCells[a]!) {
      if (o.s1[i]! >= 0 && (m & seen[i]!) === 0) {
        ok = false;
        break;
      }
    }
    if (ok) {
      for (const i of nonRef) {
        if ((mask[i]! & seen[i]!) === 0) {
          ok = false;
          break;
        }
      }
    }
    if (!ok) continue;
    let score = 0;
    if (complete) score = cg.definedCount[a]!;
    else {
      const def = cg.defined[a]!;
      for (const i of o.present) score += def[i]!;
    }
    scores[a] = score;
    if (score > 0) compatible.push(a);
  }
  const out: Fit[] = [];
  for (let x = 0; x < compatible.length; x++) {
    const a = compatible[x]!;
    const ma = cg.masks[a]!;
    for (let y = x; y < compatible.length; y++) {
      const b = compatible[y]!;
      const mb = cg.masks[b]!;
      let ok = true;
      for (const block of blocks) {
        let straight = true;
        let swap = true;
        for (const i of block) {
          const b1 = 1 << o.s1[i]!;
          const b2 = 1 << o.s2[i]!;
          if (straight && ((ma[i]! & b1) === 0 || (mb[i]! & b2) === 0)) straight = false;
          if (swap && ((ma[i]! & b2) === 0 || (mb[i]! & b1) === 0)) swap = false;
          if (!straight && !swap) break;
        }
        if (!straight && !swap) {
          ok = false;
          break;
        }
      }
      if (ok) out.push({ a, b, score: scores[a]! + scores[b]! });
    }
  }
  out.sort((p, q) => q.score - p.score || p.a - q.a || p.b - q.b);
  return { fits: out, scores };
}

function missingSummary(cg: CompiledGene, o: Observation): string | null {
  if (o.missing.length === 0) return null;
  const reasons = [...o.missingReasons].map(([reason, count]) => `${count} ${reason}`).join(', ');
  return `${o.missing.length} of ${cg.n} defining positions missing (${reasons}); alleles defined there cannot be told apart`;
}

function emptyCall(gene: string, o: Observation, warnings: string[]): GeneCall {
  return {
    gene,
    status: 'not_called',
    diplotypes: [],
    candidates: [],
    phenotype: null,
    activityScore: null,
    missingPositions: o.missing,
    warnings,
    extraGenotypes: o.extras,
  };
}

function agree<T>(values: T[]): T | null {
  const first = values[0];
  return first !== undefined && values.every((v) => v === first) ? first : null;
}

function callGene(cg: CompiledGene, sites: SiteIndex, withCandidates: boolean): GeneCall {
  const o = observe(cg, sites);
  const warnings = [...o.warnings];
  const summary = missingSummary(cg, o);
  if (summary !== null) warnings.push(summary);
  if (o.present.length === 0) {
    warnings.push(`no ${cg.gene} defining position has usable data`);
    return emptyCall(cg.gene, o, warnings);
  }
  const blocks = blocksOf(o);
  const found = o.novel ? [] : fits(cg, o, blocks).fits;
  if (found.length === 0) {
    if (cg.kb.lowestFunction) return lowestFunction(cg, o, warnings);
    if (cg.kb.fallback !== null) {
      const fb = fallbackCall(cg, o, warnings);
      if (fb !== null) return fb;
    }
    if (!o.novel) warnings.push(`no pair of named ${cg.gene} alleles explains the genotype (possible novel haplotype)`);
    return emptyCall(cg.gene, o, warnings);
  }
  const best = found[0]!.score;
  const top = found.filter((f) => f.score === best);
  const diplotypes = top.map((f) => diplotype(cg, f.a, f.b, f.score));
  const looked = top.map((f) => phenotypeOfPair(cg, f.a, f.b));
  if (cg.phenotypeByPair !== null) {
    top.forEach((f, k) => {
      if (looked[k] === undefined) warnings.push(`${diplotypes[k]?.name ?? ''} is not in the CPIC ${cg.gene} phenotype table`);
    });
  }
  const phenotype = looked.some((p) => p === undefined) ? null : agree(looked.map((p) => p![0]));
  const activityScore = looked.some((p) => p === undefined) ? null : agree(looked.map((p) => p![1]));
  const unphasedHets = blocks.filter((b) => b.length === 1 && o.phased[b[0]!] === 0).length;
  if (top.length > 1) {
    const why: string[] = [];
    if (o.missing.length > 0) why.push('missing positions');
    if (blocks.length > 1) why.push(`${unphasedHets > 0 ? 'unphased ' : ''}heterozygous sites`);
    const phenos = [...new Set(looked.map((p) => p?.[0] ?? 'no phenotype'))];
    warnings.push(
      `${top.length} diplotypes tie at score ${best}: ${diplotypes.map((d) => d.name).join(' | ')}` +
        (why.length > 0 ? ` (the ${why.join(' and ')} cannot separate them)` : '') +
        (phenos.length > 1 ? `; their phenotypes differ (${phenos.join(' vs ')}), so no phenotype is assigned` : ''),
    );
  }
  const others = found.filter((f) => f.score < best);
  const differing = others.filter((f) => {
    const p = phenotypeOfPair(cg, f.a, f.b)?.[0] ?? null;
    return p !== phenotype;
  });
  if (differing.length > 0) {
    const shown = differing.slice(0, 3).map((f) => {
      const d = diplotype(cg, f.a, f.b, f.score);
      return `${d.name} (score ${f.score}, ${phenotypeOfPair(cg, f.a, f.b)?.[0] ?? 'no phenotype'})`;
    });
    const more = differing.length > 3 ? ` and ${differing.length - 3} more` : '';
    const cause = blocks.length > 1 ? 'phasing' : 'the missing positions';
    warnings.push(`the genotype also fits ${shown.join(', ')}${more} with a lower score; ${cause} would decide`);
  }
  if (cg.kb.lowestFunction && blocks.length > 1 && top.some((f) => f.a !== 0 && f.b !== 0)) {
    warnings.push('unphased DPYD variants are assumed to be on different chromosomes (lowest-function approach, CPIC)');
  }
  return {
    gene: cg.gene,
    status: top.length > 1 ? 'ambiguous' : 'called',
    diplotypes,
    candidates: withCandidates ? found.map((f) => diplotype(cg, f.a, f.b, f.score)) : [],
    phenotype,
    activityScore,
    missingPositions: o.missing,
    warnings,
    extraGenotypes: o.extras,
  };
}

/**
 * DPYD lowest-function: decompose the observed variant copies into named alleles (largest
 * definitions first), then use the two lowest-function ones — per chromosome when all
 * heterozygous sites are phased in one phase set.
 */
function lowestFunction(cg: CompiledGene, o: Observation, warnings: string[]): GeneCall {
  const het = o.present.filter((i) => o.s1[i] !== o.s2[i]);
  const phaseKeys = new Set(het.map((i) => (o.phased[i] === 1 ? String(o.phaseSet[i]) : `u${i}`)));
  const phased = het.length > 0 && het.every((i) => o.phased[i] === 1) && phaseKeys.size === 1;
  const countsOf = (strands: Int8Array[]): Map<number, number[]> => {
    const m = new Map<number, number[]>();
    for (const i of o.present) {
      for (const s of strands) {
        const k = s[i]!;
        if (k <= 0) continue;
        const row = m.get(i) ?? new Array<number>((cg.bases[i] ?? []).length).fill(0);
        row[k] = (row[k] ?? 0) + 1;
        m.set(i, row);
      }
    }
    return m;
  };
  const order = cg.names
    .map((_, a) => a)
    .filter((a) => a !== 0)
    .map((a) => ({ a, cells: (cg.variantCells[a] ?? []).filter(([i]) => o.s1[i]! >= 0) }))
    .filter((x) => x.cells.length > 0)
    .sort((x, y) => y.cells.length - x.cells.length || x.a - y.a);
  const decompose = (m: Map<number, number[]>): number[] => {
    const taken: number[] = [];
    for (const { a, cells } of order) {
      for (;;) {
        const picks: [number, number][] = [];
        for (const [i, mask] of cells) {
          const row = m.get(i);
          const k = row?.findIndex((c, kk) => c > 0 && (mask & (1 << kk)) !== 0) ?? -1;
          if (k < 0) break;
          picks.push([i, k]);
        }
        if (picks.length !== cells.length) break;
        for (const [i, k] of picks) m.get(i)![k]! -= 1;
        taken.push(a);
      }
    }
    for (const [i, row] of m) {
      if (row.some((c) => c > 0)) warnings.push(`${cg.labels[i] ?? ''}: variant not explained by any named ${cg.gene} allele on its own; read as reference`);
    }
    return taken;
  };
  const lowest = (alleles: number[]): number[] =>
    [...alleles].sort((x, y) => (cg.activity[x] ?? 1) - (cg.activity[y] ?? 1) || x - y);
  let pair: [number, number];
  let found: number[];
  if (phased) {
    const perStrand = [o.s1, o.s2].map((s) => decompose(countsOf([s])));
    found = perStrand.flat();
    pair = [lowest(perStrand[0] ?? [])[0] ?? 0, lowest(perStrand[1] ?? [])[0] ?? 0];
    warnings.push(
      `lowest-function approach (CPIC): chromosome 1 carries ${names(cg, perStrand[0] ?? [])}, chromosome 2 carries ${names(cg, perStrand[1] ?? [])}; each chromosome counts as its lowest-function variant`,
    );
  } else {
    found = decompose(countsOf([o.s1, o.s2]));
    const two = lowest(found).slice(0, 2);
    pair = [two[0] ?? 0, two[1] ?? 0];
    warnings.push(
      `lowest-function approach (CPIC): variants found ${names(cg, found)}; the diplotype and activity score use the two lowest-function ones`,
    );
  }
  const [a, b] = pair[0] <= pair[1] ? pair : [pair[1], pair[0]];
  const score = found.reduce((s, x) => s + (cg.variantCells[x]?.length ?? 0), 0);
  const d = diplotype(cg, a, b, score);
  const p = phenotypeOfPair(cg, a, b);
  if (p === undefined) warnings.push(`${d.name} is not in the CPIC ${cg.gene} phenotype table`);
  return {
    gene: cg.gene,
    status: 'called',
    diplotypes: [d],
    candidates: [],
    phenotype: p?.[0] ?? null,
    activityScore: p?.[1] ?? null,
    missingPositions: o.missing,
    warnings,
    extraGenotypes: o.extras,
  };
}

function names(cg: CompiledGene, alleles: number[]): string {
  return alleles.length === 0 ? 'no named variant' : alleles.map((a) => cg.names[a] ?? '').join(', ');
}

/** SLCO1B1: phenotype from one position when no star-allele diplotype fits (CPIC). */
function fallbackCall(cg: CompiledGene, o: Observation, warnings: string[]): GeneCall | null {
  const fb = cg.kb.fallback;
  if (fb === null) return null;
  const i = cg.index.get(fb.pos);
  if (i === undefined || o.s1[i]! < 0) return null;
  const table = cg.bases[i] ?? [];
  const ks = [o.s1[i]!, o.s2[i]!].sort((x, y) => x - y);
  const bases = ks.map((k) => table[k] ?? '?');
  const phenotype = fb.genotypes[bases.join('/')];
  if (phenotype === undefined) return null;
  const alleles: [string, string] = [`${fb.rsid} ${bases[0]}`, `${fb.rsid} ${bases[1]}`];
  warnings.push(`no star-allele diplotype fits; phenotype from ${fb.rsid} alone (${bases.join('/')}), as CPIC allows`);
  return {
    gene: cg.gene,
    status: 'called',
    diplotypes: [{ name: alleles.join('/'), alleles, score: 2 }],
    candidates: [],
    phenotype,
    activityScore: null,
    missingPositions: o.missing,
    warnings,
    extraGenotypes: o.extras,
  };
}
