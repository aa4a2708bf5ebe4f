/**
 * Outside calls and profile state: normalising a reported diplotype/phenotype with the CPIC tables,
 * and merging several results for one gene under a documented precedence rule.
 */
import { InvalidInputError } from '../../platform/errors.ts';
import { compiled } from './compiled.ts';
import type { KnowledgeBase } from './kb.ts';
import type { GeneCall, GeneState } from './model.ts';

function geneKey(kb: KnowledgeBase, gene: string): string | undefined {
  const upper = gene.trim().toUpperCase();
  return Object.keys(kb.genes).find((g) => g.toUpperCase() === upper);
}

/**
 * Phenotype and activity score for a reported diplotype ("*1/*2", either order, spacing ignored).
 * Returns undefined when the gene has no CPIC phenotype table here (CYP2D6, HLA-A, HLA-B, CYP4F2, …):
 * the caller then keeps the phenotype the report states. Returns nulls when the gene has a table but
 * the diplotype is not in it.
 */
export function phenotypeOf(
  gene: string,
  diplotype: string,
  kb: KnowledgeBase,
): { phenotype: string | null; activityScore: string | null } | undefined {
  const key = geneKey(kb, gene);
  if (key === undefined) return undefined;
  const table = kb.genes[key]?.phenotypes ?? null;
  const cg = compiled(kb).genes.get(key);
  if (table === null || cg === undefined) return undefined;
  const parts = diplotype.split('/').map((p) => p.trim().toLowerCase());
  const none = { phenotype: null, activityScore: null };
  if (parts.length !== 2) return none;
  const lower = new Map<string, number>();
  cg.names.forEach((name, i) => lower.set(name.toLowerCase(), i));
  for (const [alias, main] of Object.entries(table.aliases)) {
    const i = cg.names.indexOf(main);
    if (i >= 0) lower.set(alias.toLowerCase(), i);
  }
  // Names only the table knows (e.g. SLCO1B1 *45, *48, *49) resolve through the table itself.
  const rows = new Map<string, [string, string | null]>();
  for (const [a, b, t, act] of table.rows) {
    const na = table.alleles[a]?.toLowerCase();
    const nb = table.alleles[b]?.toLowerCase();
    const term = table.terms[t];
    if (na === undefined || nb === undefined || term === undefined) continue;
    rows.set(`${na}\u0000${nb}`, [term, act]);
    rows.set(`${nb}\u0000${na}`, [term, act]);
  }
  const canonical = (name: string): string => {
    const i = lower.get(name);
    const defName = i === undefined ? name : (cg.names[i] ?? name);
    return (table.aliases[defName] ?? defName).toLowerCase();
  };
  const hit = rows.get(`${canonical(parts[0] ?? '')}\u0000${canonical(parts[1] ?? '')}`);
  return hit === undefined ? none : { phenotype: hit[0], activityScore: hit[1] };
}

/** The profile state of a called gene (its first-listed diplotype; phenotype as the call says). */
export function stateFromCall(call: GeneCall): GeneState {
  return {
    gene: call.gene,
    diplotype: call.status === 'called' ? (call.diplotypes[0]?.name ?? null) : call.diplotypes.map((d) => d.name).join(' | ') || null,
    phenotype: call.phenotype,
    activityScore: call.activityScore,
    source: 'called',
  };
}

/**
 * Normalises an outside result (lab report, FHIR): when the gene has a CPIC table and the diplotype
 * is in it, the table's phenotype and activity score are used and a differing reported phenotype is
 * flagged; otherwise the reported phenotype is kept as it is.
 */
export function outsideState(
  gene: string,
  reported: { diplotype?: string | null; phenotype?: string | null; activityScore?: string | null },
  kb: KnowledgeBase,
): { state: GeneState; warnings: string[] } {
  const warnings: string[] = [];
  const name = geneKey(kb, gene) ?? gene.trim().toUpperCase();
  const diplotype = reported.diplotype?.trim() || null;
  let phenotype = reported.phenotype?.trim() || null;
  let activityScore = reported.activityScore?.trim() || null;
  if (diplotype !== null) {
    const fromTable = phenotypeOf(name, diplotype, kb);
    if (fromTable !== undefined && fromTable.phenotype !== null) {
      if (phenotype !== null && phenotype.toLowerCase() !== fromTable.phenotype.toLowerCase()) {
        warnings.push(`${name} ${diplotype}: reported phenotype "${phenotype}" differs from the CPIC table's "${fromTable.phenotype}"; the table is used`);
      }
      phenotype = fromTable.phenotype;
      activityScore = fromTable.activityScore ?? activityScore;
    } else if (fromTable !== undefined) {
      warnings.push(`${name} ${diplotype}: not in the CPIC phenotype table; the reported phenotype is kept`);
    }
  }
  return { state: { gene: name, diplotype, phenotype, activityScore, source: 'outside' }, warnings };
}

const informative = (s: GeneState): boolean => s.phenotype !== null || s.activityScore !== null;
const samePhenotype = (a: GeneState, b: GeneState): boolean =>
  (a.phenotype ?? '').toLowerCase() === (b.phenotype ?? '').toLowerCase() &&
  (a.activityScore === null || b.activityScore === null || Number(a.activityScore) === Number(b.activityScore));

/**
 * Merges the current results for one gene. Precedence:
 * 1. Results without a phenotype or activity score (e.g. a gene we could not call) give way to any
 *    result that has one — an outside call for a gene we cannot call (CYP2D6, HLA-B) or did not
 *    call wins without conflict.
 * 2. When every informative result agrees on the phenotype (and activity score where both have one),
 *    our own call is kept (its evidence — positions, warnings — is on hand), else the last outside one.
 * 3. When informative results disagree, nothing is chosen: `state` is null and `conflict` says who
 *    said what. A conflict is never resolved silently; a person must decide (amend or retract).
 * Amendments and retractions are applied by the caller before merging (pass only current results).
 */
export function mergeGeneStates(states: GeneState[]): { state: GeneState | null; conflict: string | null } {
  if (states.length === 0) return { state: null, conflict: null };
  const gene = states[0]!.gene;
  if (states.some((s) => s.gene.toUpperCase() !== gene.toUpperCase())) {
    throw new InvalidInputError(`mergeGeneStates: one gene at a time (got ${[...new Set(states.map((s) => s.gene))].join(', ')})`);
  }
  const useful = states.filter(informative);
  if (useful.length === 0) return { state: states.find((s) => s.source === 'called') ?? states[states.length - 1]!, conflict: null };
  const first = useful[0]!;
  if (useful.every((s) => samePhenotype(s, first))) {
    const called = useful.find((s) => s.source === 'called');
    return { state: called ?? useful[useful.length - 1]!, conflict: null };
  }
  const said = useful.map((s) => `${s.source}${s.diplotype === null ? '' : ` ${s.diplotype}`}: ${s.phenotype ?? `activity ${s.activityScore}`}`);
  return { state: null, conflict: `${gene}: results disagree (${said.join('; ')})` };
}
