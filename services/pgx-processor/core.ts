/**
 * Pure core of the PGx processor. A patient's state (accepted genotypes at PGx-defining positions,
 * outside calls in force, what was last emitted) plus one input gives the next state; evaluating a
 * state gives the profiles and alerts that changed. Deterministic: the same inputs in the same order
 * give the same state and the same outputs, which is what makes redelivery harmless.
 */
import * as crypto from 'node:crypto';
import {
  CALLED_GENES,
  callGenes,
  drugs,
  phenotypeOf,
  recommend,
  type GeneCall,
  type GeneState,
  type KnowledgeBase,
  type Recommendation,
  type SiteGenotype,
} from '../../domain/pgx/index.ts';
import type {
  CallStatus,
  GenotypeCall,
  GenotypeCallSet,
  PgxAlert,
  PgxOutsideCall,
  PgxPatientState,
  PgxProfile,
  StateOutsideCall,
  StateSite,
  StateSource,
} from '../../platform/events.ts';

export interface CoreContext {
  kb: KnowledgeBase;
  /** Whether a GRCh38 position ('10:94781859') defines an allele of a called gene. */
  isDefining: (chrom: string, pos: number) => boolean;
  pipelineVersion: string;
}

/** What the core reads of a genotype event (all the processor decodes of it). */
export type GenotypeInput = Pick<GenotypeCallSet, 'eventId' | 'patientId' | 'assembly' | 'lineage'> & {
  calls: Pick<GenotypeCall, 'chrom' | 'pos' | 'ref' | 'alts' | 'gt' | 'phased' | 'phaseSet'>[];
};

export type Input = { kind: 'genotypes'; event: GenotypeInput } | { kind: 'outside'; event: PgxOutsideCall };

export interface Evaluation {
  state: PgxPatientState;
  profiles: PgxProfile[];
  /** Genes whose profile no longer exists (e.g. its only result was retracted): tombstones. */
  removedProfiles: string[];
  alerts: PgxAlert[];
}

const MAX_WARNINGS = 20;
// One-shot hashing (Node >= 20.12) costs half of createHash() for inputs this short; same digest.
const sha256 = typeof crypto.hash === 'function' ? (text: string): string => crypto.hash('sha256', text, 'hex') : (text: string): string => crypto.createHash('sha256').update(text).digest('hex');
const hash = (...parts: unknown[]): string => sha256(JSON.stringify(parts)).slice(0, 32);

export function emptyState(patientId: string, kbVersion: string): PgxPatientState {
  return { patientId, sources: [], sites: [], outsideCalls: [], retracted: [], profiles: {}, alerts: {}, warnings: [], kbVersion, updatedAt: 0 };
}

function withWarning(warnings: string[], warning: string): string[] {
  if (warnings.includes(warning)) return warnings;
  return [...warnings, warning].slice(-MAX_WARNINGS);
}

/** A later source replaces an earlier one at the same position; ties go to the larger event id. */
function newer(a: StateSource, b: StateSource): boolean {
  return a.observedAt !== b.observedAt ? a.observedAt > b.observedAt : a.eventId > b.eventId;
}

export function applyInput(state: PgxPatientState, input: Input, ctx: CoreContext): PgxPatientState {
  if (input.kind === 'genotypes') return applyGenotypes(state, input.event, ctx);
  return applyOutsideCall(state, input.event, ctx);
}

function applyGenotypes(state: PgxPatientState, event: GenotypeInput, ctx: CoreContext): PgxPatientState {
  if (event.assembly !== 'GRCh38') {
    // Defining positions are GRCh38 coordinates; other builds would be read at the wrong places.
    const warning = `genotypes from ${event.lineage.sourceId} are ${event.assembly}, not GRCh38: not used for PGx calling`;
    return { ...state, warnings: withWarning(state.warnings, warning), updatedAt: Math.max(state.updatedAt, event.lineage.ingestedAt) };
  }
  const source: StateSource = { eventId: event.eventId, sourceId: event.lineage.sourceId, lab: event.lineage.lab, observedAt: event.lineage.ingestedAt };
  // Sites refer to their source by index; the new event's index is one past the existing sources.
  const NEW = state.sources.length;
  // By chromosome, then position: no "chrom:pos" strings per site.
  const sites = new Map<string, Map<number, StateSite>>();
  for (const s of state.sites) positionsOf(sites, s.chrom).set(s.pos, s);
  let changed = false;
  for (const call of event.calls) {
    if (!ctx.isDefining(call.chrom, call.pos)) continue;
    const byPos = positionsOf(sites, call.chrom);
    const current = byPos.get(call.pos);
    if (current !== undefined && !newer(source, state.sources[current.source] ?? source)) continue;
    byPos.set(call.pos, { chrom: call.chrom, pos: call.pos, ref: call.ref, alts: call.alts, gt: call.gt, phased: call.phased, phaseSet: call.phaseSet, source: NEW });
    changed = true;
  }
  if (!changed) return state;
  // Keep only the sources still referenced, in a stable order, and renumber the sites.
  const all = [...state.sources, source];
  const kept = [...sites.values()].flatMap((byPos) => [...byPos.values()]);
  const used = [...new Set(kept.map((s) => s.source))].sort((x, y) => x - y);
  const renumber = new Map(used.map((old, i) => [old, i]));
  // State objects are never changed in place, so a site whose source keeps its index is shared.
  const sorted = kept
    .map((s) => {
      const source = renumber.get(s.source) ?? 0;
      return source === s.source ? s : { ...s, source };
    })
    .sort((a, b) => (a.chrom === b.chrom ? a.pos - b.pos : a.chrom < b.chrom ? -1 : 1));
  return { ...state, sources: used.map((i) => all[i]!), sites: sorted, updatedAt: Math.max(state.updatedAt, event.lineage.ingestedAt) };
}

function applyOutsideCall(state: PgxPatientState, event: PgxOutsideCall, ctx: CoreContext): PgxPatientState {
  if (state.retracted.includes(event.eventId)) return state; // a late redelivery cannot revive it
  const at = Math.max(state.updatedAt, event.lineage.ingestedAt);
  const superseded = event.supersedesEventId;
  let calls = state.outsideCalls;
  let retracted = state.retracted;
  if (superseded !== null && (event.status === 'AMENDED' || event.status === 'RETRACTED')) {
    calls = calls.filter((c) => c.eventId !== superseded);
    if (!retracted.includes(superseded)) retracted = [...retracted, superseded];
  }
  if (event.status === 'RETRACTED') {
    retracted = retracted.includes(event.eventId) ? retracted : [...retracted, event.eventId];
    return { ...state, outsideCalls: calls, retracted, updatedAt: at };
  }
  if (event.status === 'PRELIMINARY') {
    return { ...state, warnings: withWarning(state.warnings, `preliminary ${event.gene} result ${event.eventId} not used until final`), updatedAt: at };
  }
  const normalised = event.diplotype === null ? undefined : phenotypeOf(event.gene, event.diplotype, ctx.kb);
  const call: StateOutsideCall = {
    eventId: event.eventId,
    gene: event.gene,
    diplotype: event.diplotype,
    phenotype: event.phenotype ?? normalised?.phenotype ?? null,
    activityScore: event.activityScore ?? normalised?.activityScore ?? null,
    sourceId: event.lineage.sourceId,
    lab: event.lineage.lab,
    reportedAt: event.reportedAt ?? event.lineage.ingestedAt,
  };
  // One result per gene and source document: a re-sent or re-issued report replaces its own entry.
  calls = [...calls.filter((c) => c.eventId !== call.eventId && !(c.gene === call.gene && c.sourceId === call.sourceId)), call];
  calls.sort((a, b) => (a.gene === b.gene ? a.reportedAt - b.reportedAt : a.gene < b.gene ? -1 : 1));
  return { ...state, outsideCalls: calls, retracted, updatedAt: at };
}

/** A profile's content, before it is stamped with patient, gene, versions and id. */
type GeneProfile = Omit<PgxProfile, 'patientId' | 'gene' | 'kbVersion' | 'pipelineVersion' | 'computedAt' | 'profileId'>;

const distinct = (xs: (string | null)[]): string[] => [...new Set(xs.filter((x): x is string => x !== null))].sort();

function calledStatus(call: GeneCall): CallStatus {
  return call.status === 'called' ? 'CALLED' : call.status === 'ambiguous' ? 'AMBIGUOUS' : 'NOT_CALLED';
}

/**
 * One gene's profile from our call and any outside results. Precedence: an outside result fills in
 * for a gene we do not call or could not call; when both exist and agree on the phenotype the result
 * is MERGED; when they disagree it is a CONFLICT, reported with both sides and never resolved silently.
 */
export function geneProfile(gene: string, call: GeneCall | undefined, outside: StateOutsideCall[], siteEvidence: StateSource[]): GeneProfile | undefined {
  const outsidePhenotypes = distinct(outside.map((o) => o.phenotype));
  const outsideProfile = (): GeneProfile => ({
    status: outsidePhenotypes.length > 1 ? 'CONFLICT' : 'CALLED',
    source: 'OUTSIDE',
    diplotypes: distinct(outside.map((o) => o.diplotype)),
    phenotype: outsidePhenotypes.length === 1 ? (outsidePhenotypes[0] ?? null) : null,
    activityScore: outsidePhenotypes.length === 1 ? (outside.find((o) => o.activityScore !== null)?.activityScore ?? null) : null,
    missingPositions: [],
    warnings: outsidePhenotypes.length > 1 ? [`outside results disagree: ${outsidePhenotypes.join(' vs ')}`] : [],
    evidence: outside.map((o) => o.eventId).sort(),
    sourceIds: distinct(outside.map((o) => o.sourceId)),
    labs: distinct(outside.map((o) => o.lab)),
  });
  if (call === undefined) return outside.length > 0 ? outsideProfile() : undefined;
  const ours: GeneProfile = {
    status: calledStatus(call),
    source: 'CALLED',
    diplotypes: call.diplotypes.map((d) => d.name),
    phenotype: call.phenotype,
    activityScore: call.activityScore,
    missingPositions: call.missingPositions,
    warnings: call.warnings,
    evidence: distinct(siteEvidence.map((s) => s.eventId)),
    sourceIds: distinct(siteEvidence.map((s) => s.sourceId)),
    labs: distinct(siteEvidence.map((s) => s.lab)),
  };
  if (outside.length === 0) return ours;
  const theirs = outsideProfile();
  if (ours.status === 'NOT_CALLED' || ours.phenotype === null) {
    return { ...theirs, warnings: [...theirs.warnings, `our call: ${ours.status.toLowerCase().replace('_', ' ')}; outside result used`] };
  }
  const merged = {
    evidence: distinct([...ours.evidence, ...theirs.evidence]),
    sourceIds: distinct([...ours.sourceIds, ...theirs.sourceIds]),
    labs: distinct([...ours.labs, ...theirs.labs]),
  };
  if (theirs.status === 'CALLED' && theirs.phenotype === ours.phenotype) {
    return { ...ours, source: 'MERGED', ...merged };
  }
  return {
    ...ours,
    status: 'CONFLICT',
    source: 'MERGED',
    phenotype: null,
    activityScore: null,
    warnings: [...ours.warnings, `called ${ours.phenotype} (${ours.diplotypes.join(' | ')}) but outside result says ${theirs.phenotype ?? theirs.warnings.join('; ')}`],
    ...merged,
  };
}

/** The by-position map of one chromosome in a chromosome → position index, made when first needed. */
function positionsOf<V>(index: Map<string, Map<number, V>>, chrom: string): Map<number, V> {
  let byPos = index.get(chrom);
  if (byPos === undefined) {
    byPos = new Map();
    index.set(chrom, byPos);
  }
  return byPos;
}

/**
 * Which called gene each defining position belongs to, by chromosome then position (built once per
 * knowledge base; looked up per site of every evaluation, so no "chrom:pos" strings are built).
 */
const geneOfPosition = new WeakMap<KnowledgeBase, Map<string, Map<number, string>>>();

function genesAt(kb: KnowledgeBase): Map<string, Map<number, string>> {
  let index = geneOfPosition.get(kb);
  if (index === undefined) {
    index = new Map();
    for (const g of Object.values(kb.genes)) {
      const byPos = positionsOf(index, g.chrom);
      for (const [pos] of [...g.positions, ...g.extraPositions]) byPos.set(pos, g.gene);
    }
    geneOfPosition.set(kb, index);
  }
  return index;
}

/** `CoreContext.isDefining` for a knowledge base: the GRCh38 positions that define an allele of a gene it calls. */
export function definingPositions(kb: KnowledgeBase): (chrom: string, pos: number) => boolean {
  const index = genesAt(kb);
  return (chrom, pos) => index.get(chrom)?.has(pos) === true;
}

/**
 * Profiles of the genes the patient has data for: called genes with at least one genotype at a
 * defining position (a gene never tested has no profile, which readers show as "no result"), and
 * genes with outside results. Only those genes are called — the cost stays proportional to the data.
 */
export function currentProfiles(state: PgxPatientState, ctx: CoreContext): Map<string, GeneProfile> {
  const index = genesAt(ctx.kb);
  const sitesByGene = new Map<string, Set<number>>();
  for (const s of state.sites) {
    const gene = index.get(s.chrom)?.get(s.pos);
    if (gene === undefined) continue;
    const sources = sitesByGene.get(gene) ?? new Set<number>();
    sources.add(s.source);
    sitesByGene.set(gene, sources);
  }
  const calledGenes = CALLED_GENES.filter((g) => sitesByGene.has(g));
  // State sites are site genotypes (plus a source index the caller ignores): passed as they are.
  const sites: readonly SiteGenotype[] = state.sites;
  const calls = calledGenes.length === 0 ? [] : callGenes(sites, ctx.kb, { genes: calledGenes });
  const byGene = new Map(calls.map((c) => [c.gene, c]));
  const genes = new Set<string>([...calledGenes, ...state.outsideCalls.map((o) => o.gene)]);
  const profiles = new Map<string, GeneProfile>();
  for (const gene of [...genes].sort()) {
    const sources = [...(sitesByGene.get(gene) ?? [])].flatMap((i) => state.sources[i] ?? []);
    const profile = geneProfile(gene, byGene.get(gene), state.outsideCalls.filter((o) => o.gene === gene), sources);
    if (profile !== undefined) profiles.set(gene, profile);
  }
  return profiles;
}

function geneStates(profiles: Map<string, GeneProfile>): GeneState[] {
  return [...profiles.entries()].map(([gene, p]) => ({
    gene,
    diplotype: p.diplotypes.length === 1 ? (p.diplotypes[0] ?? null) : null,
    phenotype: p.status === 'CONFLICT' || p.status === 'AMBIGUOUS' ? null : p.phenotype,
    activityScore: p.status === 'CONFLICT' || p.status === 'AMBIGUOUS' ? null : p.activityScore,
    source: p.source === 'OUTSIDE' ? 'outside' : 'called',
  }));
}

const alertKey = (r: Recommendation): string => (r.population === null ? r.drug : `${r.drug}|${r.population}`);

/**
 * Profiles and alerts that differ from what the state says was last emitted, and the state that
 * records them. `at` is the time of the input that triggered the evaluation (not the wall clock),
 * so re-evaluating the same inputs gives byte-identical outputs.
 */
export function evaluate(state: PgxPatientState, ctx: CoreContext, at: number): Evaluation {
  const profiles = currentProfiles(state, ctx);
  const emittedProfiles: PgxProfile[] = [];
  const nextProfileIds: Record<string, string> = {};
  for (const [gene, p] of profiles) {
    const profileId = hash(state.patientId, gene, p.status, p.source, p.diplotypes, p.phenotype, p.activityScore, p.missingPositions, p.warnings, p.evidence, ctx.kb.version);
    nextProfileIds[gene] = profileId;
    if (state.profiles[gene] !== profileId) {
      emittedProfiles.push({ patientId: state.patientId, gene, ...p, kbVersion: ctx.kb.version, pipelineVersion: ctx.pipelineVersion, computedAt: at, profileId });
    }
  }
  const profileEvidence = Object.values(nextProfileIds).sort();

  const states = geneStates(profiles);
  const actionable = new Map<string, Recommendation>();
  for (const drug of drugs(ctx.kb)) {
    if (!drug.genes.some((g) => profiles.has(g))) continue;
    for (const r of recommend(drug.name, states, ctx.kb)) if (r.actionable) actionable.set(alertKey(r), r);
  }
  const alerts: PgxAlert[] = [];
  // Per drug (and population): 'alertId~contentId' of the ACTIVE alert, or '-' + the id of the
  // withdrawal that closed the last one. A new alert hashes in what it follows, so an alert that is
  // re-opened after a withdrawal never reuses an old id.
  const nextAlerts: Record<string, string> = {};
  for (const [key, r] of actionable) {
    const previous = state.alerts[key];
    const [previousId = '', previousContent] = (previous ?? '').split('~');
    const contentId = hash(state.patientId, key, r.recommendation, r.classification, r.phenotypes, ctx.kb.version);
    if (previousContent === contentId) {
      nextAlerts[key] = previous ?? '';
      continue;
    }
    const alertId = hash(contentId, previousId);
    nextAlerts[key] = `${alertId}~${contentId}`;
    alerts.push({
      alertId,
      patientId: state.patientId,
      drug: r.drug,
      rxnorm: r.rxnorm,
      status: 'ACTIVE',
      supersedesAlertId: previousId === '' ? null : previousId.replace(/^-/, ''),
      genes: r.genes,
      phenotypes: r.phenotypes,
      population: r.population,
      implication: r.implication,
      recommendation: r.recommendation,
      classification: r.classification,
      alternatives: r.alternatives,
      guidelineName: r.guidelineName,
      guidelineUrl: r.guidelineUrl,
      evidence: profileEvidence,
      reason: null,
      kbVersion: ctx.kb.version,
      pipelineVersion: ctx.pipelineVersion,
      createdAt: at,
    });
  }
  for (const [key, previous] of Object.entries(state.alerts)) {
    if (key in nextAlerts) continue;
    if (previous.startsWith('-')) {
      nextAlerts[key] = previous; // already withdrawn
      continue;
    }
    const [drug = key, population = null] = key.split('|');
    const activeId = previous.split('~')[0] ?? previous;
    const alertId = hash(activeId, 'withdrawn');
    nextAlerts[key] = `-${alertId}`;
    alerts.push({
      alertId,
      patientId: state.patientId,
      drug,
      rxnorm: drugs(ctx.kb).find((d) => d.name === drug)?.rxnorm ?? [],
      status: 'WITHDRAWN',
      supersedesAlertId: activeId,
      genes: [],
      phenotypes: {},
      population,
      implication: null,
      recommendation: 'The earlier PGx recommendation for this drug no longer applies.',
      classification: 'No Recommendation',
      alternatives: [],
      guidelineName: '',
      guidelineUrl: '',
      evidence: profileEvidence,
      reason: 'the result it rested on was retracted, amended, contradicted or re-analysed',
      kbVersion: ctx.kb.version,
      pipelineVersion: ctx.pipelineVersion,
      createdAt: at,
    });
  }
  return {
    state: { ...state, profiles: nextProfileIds, alerts: nextAlerts, kbVersion: ctx.kb.version },
    profiles: emittedProfiles,
    removedProfiles: Object.keys(state.profiles).filter((gene) => !(gene in nextProfileIds)).sort(),
    alerts,
  };
}
