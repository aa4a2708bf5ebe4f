/**
 * Builders of realistic PGx profile and alert events, shared by the point-of-care benchmark and the
 * tests that drive the views sink, the read API and the CDS Hooks service by publishing directly to
 * pgx.profiles.v1 and pgx.alerts.v1 (as the PGx processor would).
 */
import { createHash } from 'node:crypto';
import type { PgxAlert, PgxProfile } from '../platform/events.ts';

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

export function profileEvent(
  patientId: string,
  gene: string,
  result: { diplotype: string | null; phenotype: string | null; activityScore?: string | null; status?: PgxProfile['status']; warnings?: string[] },
  options: { computedAt?: number; lab?: string; sourceId?: string; kbVersion?: string } = {},
): PgxProfile {
  const status = result.status ?? (result.diplotype === null ? 'NOT_CALLED' : 'CALLED');
  const content = `${patientId}|${gene}|${status}|${result.diplotype ?? ''}|${result.phenotype ?? ''}`;
  return {
    patientId,
    gene,
    status,
    source: 'CALLED',
    diplotypes: result.diplotype === null ? [] : [result.diplotype],
    phenotype: result.phenotype,
    activityScore: result.activityScore ?? null,
    missingPositions: status === 'NOT_CALLED' ? ['chr10:94781859'] : [],
    warnings: result.warnings ?? (status === 'NOT_CALLED' ? ['defining position chr10:94781859 not tested'] : []),
    evidence: [sha(`genotypes:${patientId}`).slice(0, 32)],
    sourceIds: [options.sourceId ?? `reports/${patientId}.vcf`],
    labs: [options.lab ?? 'Genomics Core Lab'],
    kbVersion: options.kbVersion ?? 'cpic-2025.1',
    pipelineVersion: '0.2.0',
    computedAt: options.computedAt ?? Date.now(),
    profileId: sha(content).slice(0, 32),
  };
}

export const CLOPIDOGREL_PM = {
  drug: 'clopidogrel',
  rxnorm: ['32968'],
  genes: ['CYP2C19'],
  phenotypes: { CYP2C19: 'Poor Metabolizer' },
  population: 'ACS/PCI',
  implication: 'Significantly reduced clopidogrel active metabolite formation; increased risk for major adverse cardiovascular and cerebrovascular events.',
  recommendation: 'Avoid standard dose clopidogrel if possible. Use prasugrel or ticagrelor at standard dose if no contraindication.',
  classification: 'Strong',
  alternatives: ['prasugrel', 'ticagrelor'],
  guidelineName: 'CPIC Guideline for CYP2C19 and Clopidogrel Therapy',
  guidelineUrl: 'https://cpicpgx.org/guidelines/guideline-for-clopidogrel-and-cyp2c19/',
} as const;

export function alertEvent(
  patientId: string,
  status: PgxAlert['status'] = 'ACTIVE',
  options: { supersedes?: string | null; createdAt?: number; variant?: string; profileIds?: string[]; recommendation?: string } = {},
): PgxAlert {
  const r = CLOPIDOGREL_PM;
  const recommendation = options.recommendation ?? r.recommendation;
  return {
    alertId: sha(`${patientId}|${r.drug}|${status}|${recommendation}|${options.variant ?? ''}`).slice(0, 32),
    patientId,
    drug: r.drug,
    rxnorm: [...r.rxnorm],
    status,
    supersedesAlertId: options.supersedes ?? null,
    genes: [...r.genes],
    phenotypes: { ...r.phenotypes },
    population: r.population,
    implication: r.implication,
    recommendation,
    classification: r.classification,
    alternatives: [...r.alternatives],
    guidelineName: r.guidelineName,
    guidelineUrl: r.guidelineUrl,
    evidence: options.profileIds ?? [],
    reason: status === 'WITHDRAWN' ? 'result retracted by the laboratory' : null,
    kbVersion: 'cpic-2025.1',
    pipelineVersion: '0.2.0',
    createdAt: options.createdAt ?? Date.now(),
  };
}
