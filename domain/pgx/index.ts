/**
 * The PGx engine: star-allele diplotype calling for ten genes from genotypes, phenotypes and activity
 * scores from the CPIC tables, outside calls, and CPIC recommendations. Pure: the only I/O is loading
 * the committed knowledge base (domain/pgx/kb/pgx-kb.json, built by scripts/build-pgx-kb.ts).
 */
export { CALLED_GENES } from './model.ts';
export type { CalledGene, SiteGenotype, Diplotype, GeneCall, CallOptions, GeneState, Recommendation } from './model.ts';
export { loadKnowledgeBase, validateKnowledgeBase, KB_FORMAT } from './kb.ts';
export type { KnowledgeBase, KbGene, KbDrug, KbRecommendation, KbCondition } from './kb.ts';
export { callGenes } from './caller.ts';
export { phenotypeOf, outsideState, stateFromCall, mergeGeneStates } from './profile.ts';
export { recommend, drugs } from './recommend.ts';
export { parseVcfHeader, parseVcfRecord, pgxPositionIndex, siteGenotype, type VcfHeader, type VcfSiteRecord } from './vcf.ts';
