/** CPIC recommendations for a patient's PGx profile (pure lookups in the knowledge base). */
import type { KbCondition, KbDrug, KnowledgeBase } from './kb.ts';
import type { GeneState, Recommendation } from './model.ts';

const numeric = (value: string): number | null => {
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
};

function hasResult(state: GeneState | undefined): boolean {
  return state !== undefined && (state.phenotype !== null || state.activityScore !== null);
}

function matches(condition: KbCondition, state: GeneState | undefined): boolean {
  switch (condition.kind) {
    case 'noResult':
      return !hasResult(state);
    case 'reported':
      return hasResult(state) || (state?.diplotype ?? null) !== null;
    case 'phenotype': {
      const p = state?.phenotype?.toLowerCase();
      return p !== undefined && condition.values.some((v) => v.toLowerCase() === p);
    }
    case 'activity': {
      const a = state?.activityScore ?? null;
      const n = a === null ? null : numeric(a);
      return n !== null && condition.values.some((v) => numeric(v) === n);
    }
    case 'carries': {
      const d = state?.diplotype ?? null;
      if (d === null || d.includes('|')) return false;
      const alleles = d.split('/').map((x) => x.trim());
      return alleles.some((x) => condition.values.includes(x));
    }
  }
}

function findDrug(drug: string, kb: KnowledgeBase): KbDrug | undefined {
  const wanted = drug.trim().toLowerCase();
  return kb.drugs.find((d) => d.name.toLowerCase() === wanted || d.rxnorm.includes(wanted));
}

/**
 * The recommendations that apply to `profile` for `drug` (name or RxNorm code): one per population
 * where CPIC splits by population (clopidogrel), [] when no rule matches or the drug is unknown.
 * Several states for one gene must be merged first (mergeGeneStates); the last one wins here.
 */
export function recommend(drug: string, profile: readonly GeneState[], kb: KnowledgeBase): Recommendation[] {
  const d = findDrug(drug, kb);
  if (d === undefined) return [];
  const byGene = new Map<string, GeneState>();
  for (const s of profile) byGene.set(s.gene.toUpperCase(), s);
  return d.recommendations
    .filter((r) => r.conditions.every((c) => matches(c, byGene.get(c.gene.toUpperCase()))))
    .map((r) => ({
      drug: d.name,
      rxnorm: d.rxnorm,
      genes: d.genes,
      population: r.population,
      phenotypes: r.lookup,
      implication: r.implications.length === 0 ? null : r.implications.join('; '),
      recommendation: r.recommendation,
      classification: r.classification,
      actionable: r.actionable,
      alternatives: r.alternatives,
      guidelineName: d.guideline.name,
      guidelineUrl: d.guideline.url,
      considerations: r.considerations,
      pmids: d.guideline.pmids,
      curated: r.curated,
      recordId: r.id,
    }));
}

/** The drugs the knowledge base has recommendations for. */
export function drugs(kb: KnowledgeBase): { name: string; rxnorm: string[]; genes: string[]; guidelineUrl: string }[] {
  return kb.drugs.map((d) => ({ name: d.name, rxnorm: d.rxnorm, genes: d.genes, guidelineUrl: d.guideline.url }));
}
