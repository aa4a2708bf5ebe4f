/** Types shared by the PGx engine's modules (the public API re-exports them from index.ts). */

export const CALLED_GENES = ['CYP2C19', 'CYP2C9', 'CYP3A5', 'CYP4F2', 'DPYD', 'NUDT15', 'SLCO1B1', 'TPMT', 'UGT1A1', 'VKORC1'] as const;
export type CalledGene = (typeof CALLED_GENES)[number];

/** One sample's genotype at one position, as carried by genotype events. */
export interface SiteGenotype {
  /** Chromosome without "chr" ("chr" is tolerated and stripped). */
  chrom: string;
  /** GRCh38, 1-based. */
  pos: number;
  ref: string;
  alts: string[];
  /** Allele indices (0 = REF); null = no call. */
  gt: (number | null)[];
  phased: boolean;
  /** VCF PS: phased sites are phased with each other only within one phase set. */
  phaseSet: number | null;
}

export interface Diplotype {
  /** "A/B" with the definition's allele names, e.g. "*1/*17". */
  name: string;
  alleles: [string, string];
  /** Number of defined allele-definition cells observed, summed over both alleles (higher = more specific). */
  score: number;
}

export interface GeneCall {
  gene: string;
  /** ambiguous = several diplotypes tie at the top score. */
  status: 'called' | 'ambiguous' | 'not_called';
  /** Every top-scoring diplotype, best first by the documented tie-break. */
  diplotypes: Diplotype[];
  /** Every diplotype that fits the genotype, best first (empty unless options.candidates). */
  candidates: Diplotype[];
  /** CPIC phenotype term; null if not called or tied diplotypes disagree. */
  phenotype: string | null;
  activityScore: string | null;
  /** Defining positions without usable data, e.g. "rs4244285 (10:94781859)". */
  missingPositions: string[];
  /** Why a call is ambiguous or missing, novel alleles, fallbacks, phase assumptions. */
  warnings: string[];
  /** Genotypes at the gene's extra reported positions (e.g. CYP2C9 rs12777823), as "REF/ALT" bases. */
  extraGenotypes: Record<string, string>;
}

export interface CallOptions {
  candidates?: boolean;
  genes?: readonly string[];
}

/** A gene's state in a patient's profile, from our caller or from an outside result. */
export interface GeneState {
  gene: string;
  diplotype: string | null;
  phenotype: string | null;
  activityScore: string | null;
  source: 'called' | 'outside';
}

export interface Recommendation {
  drug: string;
  rxnorm: string[];
  genes: string[];
  /** CPIC population (e.g. "CVI ACS PCI" for clopidogrel); null when the guideline does not split. */
  population: string | null;
  /** The lookup key the recommendation matched: gene → phenotype or activity score (or "No Result"). */
  phenotypes: Record<string, string>;
  implication: string | null;
  recommendation: string;
  /** CPIC strength as published: "Strong", "Moderate", "Optional", "No recommendation". */
  classification: string;
  /** True when it changes prescribing compared with standard care (alternative drug or dose change). */
  actionable: boolean;
  alternatives: string[];
  guidelineName: string;
  guidelineUrl: string;
  /** Extra text CPIC gives with the recommendation (indication, monitoring). */
  considerations: string | null;
  /** PubMed ids of the guideline publications. */
  pmids: string[];
  /** The record is the project's summary of a guideline without lookup rows (warfarin), not a CPIC record. */
  curated: boolean;
  recordId: string;
}
