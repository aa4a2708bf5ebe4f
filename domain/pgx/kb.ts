/**
 * The PGx knowledge base: the project's own compact format for CPIC allele definitions,
 * diplotype → phenotype tables and recommendation records. It is produced by
 * `scripts/build-pgx-kb.ts` and committed at `domain/pgx/kb/pgx-kb.json`; loading it is the only
 * I/O this library does.
 */
import { readFileSync } from 'node:fs';
import { InvalidInputError } from '../../platform/errors.ts';
import { fromRoot } from '../../platform/paths.ts';

export const KB_FORMAT = 'backbone-pgx-kb/1';

/** One defining position: [pos (GRCh38, 1-based), rsid or null, REF, ALTs]. */
export type KbPosition = [number, string | null, string, string[]];

/**
 * One named allele: [name, cells]. A cell is the allele's base at that position, `null` when the
 * position is not part of the definition (the reference base applies), or a one-letter IUPAC code
 * ("wobble") meaning any of its bases.
 */
export type KbAllele = [string, (string | null)[]];

/** One row of a phenotype table: [allele index, allele index, phenotype term index, activity score]. */
export type KbDiplotypeRow = [number, number, number, string | null];

export interface KbPhenotypeTable {
  /** Allele names as the table spells them. */
  alleles: string[];
  /** Allele function per name (CPIC term). */
  functions: Record<string, string>;
  /** Activity value per name, for genes with an activity score. */
  activity: Record<string, string>;
  /** Phenotype terms, indexed by the rows. */
  terms: string[];
  rows: KbDiplotypeRow[];
  /** Definition names that the table spells differently (sub-alleles), e.g. "*45.001" → "*45". */
  aliases: Record<string, string>;
}

/** Phenotype from one position's genotype when no star-allele diplotype fits (SLCO1B1 rs4149056). */
export interface KbFallback {
  pos: number;
  rsid: string;
  /** Genotype as "X/Y" with the bases sorted (REF first), → phenotype term. */
  genotypes: Record<string, string>;
  source: string;
}

export interface KbGene {
  gene: string;
  /** Chromosome without "chr". */
  chrom: string;
  build: string;
  definitionVersion: string;
  referenceAllele: string;
  /** DPYD: combine variants and score the two lowest-function ones (CPIC). */
  lowestFunction: boolean;
  /** An ALT no allele describes is read as the reference base instead of blocking the call. */
  novelAltAsReference: boolean;
  positions: KbPosition[];
  alleles: KbAllele[];
  /** Positions the caller reports but no allele uses (e.g. CYP2C9 rs12777823 for warfarin). */
  extraPositions: KbPosition[];
  phenotypes: KbPhenotypeTable | null;
  fallback: KbFallback | null;
}

/**
 * One condition of a recommendation on one gene:
 * - `phenotype` / `activity`: the gene's phenotype or activity score is one of `values`;
 * - `noResult`: there is no usable result for the gene;
 * - `reported`: there is a usable result (any diplotype or phenotype);
 * - `carries`: the diplotype contains one of the alleles in `values`.
 */
export interface KbCondition {
  gene: string;
  kind: 'phenotype' | 'activity' | 'noResult' | 'reported' | 'carries';
  values: string[];
}

export interface KbRecommendation {
  id: string;
  population: string | null;
  conditions: KbCondition[];
  /** The CPIC lookup key as published (gene → phenotype, activity score or "No Result"). */
  lookup: Record<string, string>;
  classification: string;
  recommendation: string;
  considerations: string | null;
  implications: string[];
  alternatives: string[];
  actionable: boolean;
  /** True when the record is a summary written for this project rather than a CPIC record. */
  curated: boolean;
}

export interface KbDrug {
  name: string;
  rxnorm: string[];
  genes: string[];
  guideline: { name: string; url: string; pmids: string[]; recordsVersion: string | null };
  recommendations: KbRecommendation[];
}

export interface KnowledgeBase {
  format: string;
  /** Data version of the facts, e.g. "2025-11-05". */
  version: string;
  source: string;
  licence: string;
  genes: Record<string, KbGene>;
  drugs: KbDrug[];
  notes: string[];
}

let cached: KnowledgeBase | undefined;

/** The committed knowledge base, parsed once per process. */
export function loadKnowledgeBase(): KnowledgeBase {
  if (cached !== undefined) return cached;
  const url = fromRoot('domain', 'pgx', 'kb', 'pgx-kb.json');
  const parsed: unknown = JSON.parse(readFileSync(url, 'utf8'));
  cached = validateKnowledgeBase(parsed);
  return cached;
}

/** Shallow structural check: a KB of another format is refused with a clear reason. */
export function validateKnowledgeBase(value: unknown): KnowledgeBase {
  if (typeof value !== 'object' || value === null) throw new InvalidInputError('PGx knowledge base: not a JSON object');
  const kb = value as Partial<KnowledgeBase>;
  if (kb.format !== KB_FORMAT) {
    throw new InvalidInputError(`PGx knowledge base: format ${String(kb.format)}, expected ${KB_FORMAT}; rebuild it with scripts/build-pgx-kb.ts`);
  }
  if (typeof kb.version !== 'string' || typeof kb.source !== 'string' || typeof kb.genes !== 'object' || !Array.isArray(kb.drugs)) {
    throw new InvalidInputError('PGx knowledge base: version, source, genes and drugs are required');
  }
  return kb as KnowledgeBase;
}
