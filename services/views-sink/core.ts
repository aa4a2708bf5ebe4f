/**
 * Pure core of the views sink: PGx profile and alert events become rows of the ClickHouse views
 * (`pgx_profile_versions`, which feeds `pgx_profiles` and the cohort counts, and
 * `pgx_alert_events`, behind `pgx_alerts`). No I/O here; the runner decodes, inserts and commits.
 */
import { TOPICS } from '../../platform/catalogue.ts';
import type { RecordMeta, TableRows } from '../../platform/clickhouse/sink.ts';
import { InvalidInputError } from '../../platform/errors.ts';
import type { PgxAlert, PgxProfile } from '../../platform/events.ts';

export const PROFILE_TABLE = 'pgx_profile_versions';
export const ALERT_TABLE = 'pgx_alert_events';

/** What the sink reads: a profile, a profile tombstone (null value: consent withdrawn) or an alert. */
export type ViewEvent =
  | { kind: 'profile'; profile: PgxProfile }
  | { kind: 'profile-deleted'; patientId: string; gene: string }
  | { kind: 'alert'; alert: PgxAlert };

interface Lineage {
  published_at: string;
  kafka_topic: string;
  kafka_partition: number;
  kafka_offset: string;
}

export interface ProfileRow extends Lineage {
  patient_id: string;
  gene: string;
  status: string;
  source: string;
  diplotype: string | null;
  diplotypes: string[];
  phenotype: string | null;
  activity_score: string | null;
  missing_positions: string[];
  warnings: string[];
  evidence: string[];
  source_ids: string[];
  labs: string[];
  kb_version: string;
  pipeline_version: string;
  computed_at: string;
  profile_id: string;
  is_deleted: 0 | 1;
}

export interface AlertRow extends Lineage {
  alert_id: string;
  patient_id: string;
  drug: string;
  rxnorm: string[];
  status: string;
  supersedes_alert_id: string | null;
  genes: string[];
  phenotypes: Record<string, string>;
  population: string | null;
  implication: string | null;
  recommendation: string;
  classification: string;
  alternatives: string[];
  guideline_name: string;
  guideline_url: string;
  evidence: string[];
  reason: string | null;
  kb_version: string;
  pipeline_version: string;
  created_at: string;
}

export type ViewRow = ProfileRow | AlertRow;

/** Unix seconds with milliseconds, the form DateTime64(3) parses without ambiguity. */
export function unixSeconds(epochMs: number): string {
  return (epochMs / 1000).toFixed(3);
}

/** A profile key is 'patientId|gene'; the gene never contains '|', so the last one separates. */
export function parseProfileKey(key: string): { patientId: string; gene: string } {
  const at = key.lastIndexOf('|');
  if (at <= 0 || at === key.length - 1) throw new InvalidInputError(`profile key is not 'patientId|gene'`);
  return { patientId: key.slice(0, at), gene: key.slice(at + 1) };
}

/** The catalogue topic (without environment prefix) a record was read from. */
export function catalogueTopic(topic: string, prefix: string): string {
  return topic.startsWith(prefix) ? topic.slice(prefix.length) : topic;
}

function lineage(meta: RecordMeta): Lineage {
  return {
    published_at: unixSeconds(meta.timestamp),
    kafka_topic: meta.topic,
    kafka_partition: meta.partition,
    kafka_offset: meta.offset,
  };
}

export function profileRow(p: PgxProfile, meta: RecordMeta): ProfileRow {
  if (p.patientId === '' || p.gene === '') throw new InvalidInputError('profile has an empty patientId or gene');
  return {
    patient_id: p.patientId,
    gene: p.gene,
    status: p.status,
    source: p.source,
    diplotype: p.status === 'CALLED' ? (p.diplotypes[0] ?? null) : null,
    diplotypes: p.diplotypes,
    phenotype: p.phenotype,
    activity_score: p.activityScore,
    missing_positions: p.missingPositions,
    warnings: p.warnings,
    evidence: p.evidence,
    source_ids: p.sourceIds,
    labs: p.labs,
    kb_version: p.kbVersion,
    pipeline_version: p.pipelineVersion,
    computed_at: unixSeconds(p.computedAt),
    profile_id: p.profileId,
    is_deleted: 0,
    ...lineage(meta),
  };
}

export function tombstoneRow(patientId: string, gene: string, meta: RecordMeta): ProfileRow {
  return {
    patient_id: patientId,
    gene,
    status: 'NOT_CALLED',
    source: 'CALLED',
    diplotype: null,
    diplotypes: [],
    phenotype: null,
    activity_score: null,
    missing_positions: [],
    warnings: ['profile removed (tombstone)'],
    evidence: [],
    source_ids: [],
    labs: [],
    kb_version: '',
    pipeline_version: '',
    computed_at: unixSeconds(meta.timestamp),
    profile_id: '',
    is_deleted: 1,
    ...lineage(meta),
  };
}

export function alertRow(a: PgxAlert, meta: RecordMeta): AlertRow {
  if (a.patientId === '' || a.drug === '') throw new InvalidInputError('alert has an empty patientId or drug');
  return {
    alert_id: a.alertId,
    patient_id: a.patientId,
    drug: a.drug,
    rxnorm: a.rxnorm,
    status: a.status,
    supersedes_alert_id: a.supersedesAlertId,
    genes: a.genes,
    phenotypes: a.phenotypes,
    population: a.population,
    implication: a.implication,
    recommendation: a.recommendation,
    classification: a.classification,
    alternatives: a.alternatives,
    guideline_name: a.guidelineName,
    guideline_url: a.guidelineUrl,
    evidence: a.evidence,
    reason: a.reason,
    kb_version: a.kbVersion,
    pipeline_version: a.pipelineVersion,
    created_at: unixSeconds(a.createdAt),
    ...lineage(meta),
  };
}

export function toViewRows(event: ViewEvent, meta: RecordMeta): TableRows<ViewRow>[] {
  switch (event.kind) {
    case 'profile':
      return [{ table: PROFILE_TABLE, rows: [profileRow(event.profile, meta)] }];
    case 'profile-deleted':
      return [{ table: PROFILE_TABLE, rows: [tombstoneRow(event.patientId, event.gene, meta)] }];
    case 'alert':
      return [{ table: ALERT_TABLE, rows: [alertRow(event.alert, meta)] }];
  }
}

/** Which event a record holds, from its topic; a null profile value is a tombstone. */
export function classify(topic: string, key: Buffer | null, value: Buffer | null): 'profile' | 'profile-deleted' | 'alert' {
  if (topic === TOPICS.profiles) {
    if (value === null || value.length === 0) {
      if (key === null) throw new InvalidInputError('profile tombstone without a key');
      return 'profile-deleted';
    }
    return 'profile';
  }
  if (topic === TOPICS.alerts) return 'alert';
  throw new InvalidInputError(`views sink does not read topic ${topic}`);
}
