/**
 * The knowledge base compiled for calling: per gene, a base table per position and, per named
 * allele, a bit mask of the bases it allows at each position. Compiled once per KB object.
 */
import type { KbGene, KnowledgeBase } from './kb.ts';

const IUPAC: Record<string, string> = {
  R: 'AG', Y: 'CT', S: 'CG', W: 'AT', K: 'GT', M: 'AC', B: 'CGT', D: 'AGT', H: 'ACT', V: 'ACG', N: 'ACGT',
};

export interface CompiledGene {
  kb: KbGene;
  gene: string;
  chrom: string;
  /** Number of defining positions. */
  n: number;
  positions: number[];
  /** Position → index. */
  index: Map<number, number>;
  /** Per position: [REF, ...ALTs] upper-case; base index 0 = REF. */
  bases: string[][];
  /** Per position: bases some named allele uses (bit per base index). */
  used: number[];
  labels: string[];
  names: string[];
  /** Number of defined cells per allele (its score when nothing is missing). */
  definedCount: number[];
  /** masks[allele][position]: bases the allele allows there. */
  masks: Uint8Array[];
  /** defined[allele][position]: 1 if the cell is part of the definition. */
  defined: Uint8Array[];
  /** Non-reference cells per allele: [position, mask] (lowest-function decomposition). */
  variantCells: [number, number][][];
  /** Phenotype table: "i,j" (definition indices, i <= j) → [phenotype, activity]. */
  phenotypeByPair: Map<string, [string, string | null]> | null;
  /** Definition allele index → activity value (lowest-function genes). */
  activity: (number | null)[];
  /** Extra reported positions: pos → [label, REF, ALTs]. */
  extras: Map<number, [string, string, string[]]>;
}

export interface CompiledKb {
  genes: Map<string, CompiledGene>;
}

const cache = new WeakMap<KnowledgeBase, CompiledKb>();

export function compiled(kb: KnowledgeBase): CompiledKb {
  let c = cache.get(kb);
  if (c === undefined) {
    c = { genes: new Map(Object.values(kb.genes).map((g) => [g.gene, compileGene(g)])) };
    cache.set(kb, c);
  }
  return c;
}

export function positionLabel(chrom: string, pos: number, rsid: string | null): string {
  return rsid === null ? `${chrom}:${pos}` : `${rsid} (${chrom}:${pos})`;
}

function compileGene(g: KbGene): CompiledGene {
  const n = g.positions.length;
  const bases = g.positions.map(([, , ref, alts]) => [ref, ...alts].map((b) => b.toUpperCase()));
  const used = new Array<number>(n).fill(0);
  const masks: Uint8Array[] = [];
  const defined: Uint8Array[] = [];
  const variantCells: [number, number][][] = [];
  const reference = g.alleles[0];
  if (reference === undefined) throw new Error(`${g.gene}: no alleles`);
  for (const [name, cells] of g.alleles) {
    const m = new Uint8Array(n);
    const d = new Uint8Array(n);
    const v: [number, number][] = [];
    for (let i = 0; i < n; i++) {
      const cell = cells[i] ?? null;
      const table = bases[i] ?? [];
      const value = (cell ?? reference[1][i] ?? '').toUpperCase();
      let mask = 0;
      const exact = table.indexOf(value);
      if (exact >= 0) mask = 1 << exact;
      else if (value.length === 1 && IUPAC[value] !== undefined) {
        for (const b of IUPAC[value]) {
          const k = table.indexOf(b);
          if (k >= 0) mask |= 1 << k;
        }
      }
      if (mask === 0) throw new Error(`${g.gene} ${name}: cell ${String(cell)} at ${g.positions[i]?.[0]} is not a base of the position`);
      m[i] = mask;
      d[i] = cell === null ? 0 : 1;
      used[i] = (used[i] ?? 0) | mask;
      if (cell !== null && (mask & 1) === 0) v.push([i, mask]);
    }
    masks.push(m);
    defined.push(d);
    variantCells.push(v);
  }
  const names = g.alleles.map(([name]) => name);
  let phenotypeByPair: CompiledGene['phenotypeByPair'] = null;
  const activity: (number | null)[] = names.map(() => null);
  const table = g.phenotypes;
  if (table !== null) {
    const byName = new Map<string, [number, number, string, string | null]>();
    for (const [a, b, t, act] of table.rows) {
      const na = table.alleles[a];
      const nb = table.alleles[b];
      const term = table.terms[t];
      if (na === undefined || nb === undefined || term === undefined) continue;
      byName.set(`${na}\u0000${nb}`, [a, b, term, act]);
      byName.set(`${nb}\u0000${na}`, [a, b, term, act]);
    }
    phenotypeByPair = new Map();
    const tableName = (name: string): string => table.aliases[name] ?? name;
    for (let i = 0; i < names.length; i++) {
      const ni = tableName(names[i] ?? '');
      const value = table.activity[ni];
      activity[i] = value === undefined ? null : Number(value);
      for (let j = i; j < names.length; j++) {
        const hit = byName.get(`${ni}\u0000${tableName(names[j] ?? '')}`);
        if (hit !== undefined) phenotypeByPair.set(`${i},${j}`, [hit[2], hit[3]]);
      }
    }
  }
  const extras = new Map<number, [string, string, string[]]>(
    g.extraPositions.map(([pos, rsid, ref, alts]) => [pos, [rsid ?? `${g.chrom}:${pos}`, ref.toUpperCase(), alts.map((a) => a.toUpperCase())]]),
  );
  return {
    kb: g,
    gene: g.gene,
    chrom: g.chrom,
    n,
    positions: g.positions.map(([pos]) => pos),
    index: new Map(g.positions.map(([pos], i) => [pos, i])),
    bases,
    used,
    labels: g.positions.map(([pos, rsid]) => positionLabel(g.chrom, pos, rsid)),
    names,
    definedCount: defined.map((d) => d.reduce((n, x) => n + x, 0)),
    masks,
    defined,
    variantCells,
    phenotypeByPair,
    activity,
    extras,
  };
}
