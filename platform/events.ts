/**
 * TypeScript shapes of the Avro values in schemas/avro. Timestamps are epoch milliseconds.
 * A unit test checks that samples of these types are valid for the committed schemas.
 */
export type SourceKind = 'VCF' | 'FHIR' | 'LAB_REPORT' | 'OTHER';
export type Assembly = 'GRCh37' | 'GRCh38' | 'UNKNOWN';

export interface Lineage {
  sourceId: string;
  sourceSha256: string;
  lab: string | null;
  ingestedAt: number;
  connector: string;
  pipelineVersion: string;
}

export interface GenotypeCall {
  chrom: string;
  pos: number;
  ref: string;
  alts: string[];
  gt: (number | null)[];
  phased: boolean;
  phaseSet: number | null;
  depth: number | null;
  genotypeQuality: number | null;
  quality: number | null;
  filters: string[];
  variantId: string | null;
  gene: string | null;
  recordRef: string;
}

export interface GenotypeCallSet {
  eventId: string;
  patientId: string;
  sampleId: string;
  sourceKind: SourceKind;
  assembly: Assembly;
  calls: GenotypeCall[];
  lineage: Lineage;
}

export interface PgxOutsideCall {
  eventId: string;
  patientId: string;
  gene: string;
  diplotype: string | null;
  phenotype: string | null;
  activityScore: string | null;
  status: 'FINAL' | 'AMENDED' | 'RETRACTED' | 'PRELIMINARY';
  supersedesEventId: string | null;
  method: string | null;
  reportedAt: number | null;
  confidence: number;
  lineage: Lineage;
}

export interface SourceDocumentReceived {
  eventId: string;
  sourceId: string;
  sourceKind: SourceKind;
  sha256: string;
  byteSize: number;
  mediaType: string | null;
  fileName: string | null;
  lab: string | null;
  submittedBy: string | null;
  receivedAt: number;
  connector: string;
  pipelineVersion: string;
  eventCount: number | null;
  deadLettered: number | null;
}

export interface DeadLetter {
  failedAt: number;
  stage: string;
  reason: string;
  errorClass: string;
  retriable: boolean;
  attempts: number;
  sourceTopic: string | null;
  sourcePartition: number | null;
  sourceOffset: number | null;
  sourceRef: string | null;
  originalKey: Buffer | null;
  originalValue: Buffer | null;
  originalHeaders: Record<string, Buffer>;
}

export type CallStatus = 'CALLED' | 'AMBIGUOUS' | 'NOT_CALLED' | 'CONFLICT';

export interface PgxProfile {
  patientId: string;
  gene: string;
  status: CallStatus;
  source: 'CALLED' | 'OUTSIDE' | 'MERGED';
  diplotypes: string[];
  phenotype: string | null;
  activityScore: string | null;
  missingPositions: string[];
  warnings: string[];
  evidence: string[];
  sourceIds: string[];
  labs: string[];
  kbVersion: string;
  pipelineVersion: string;
  computedAt: number;
  profileId: string;
}

export interface PgxAlert {
  alertId: string;
  patientId: string;
  drug: string;
  rxnorm: string[];
  status: 'ACTIVE' | 'WITHDRAWN';
  supersedesAlertId: string | null;
  genes: string[];
  phenotypes: Record<string, string>;
  population: string | null;
  implication: string | null;
  recommendation: string;
  classification: string;
  alternatives: string[];
  guidelineName: string;
  guidelineUrl: string;
  evidence: string[];
  reason: string | null;
  kbVersion: string;
  pipelineVersion: string;
  createdAt: number;
}

export interface StateSite {
  chrom: string;
  pos: number;
  ref: string;
  alts: string[];
  gt: (number | null)[];
  phased: boolean;
  phaseSet: number | null;
  /** Index into PgxPatientState.sources. */
  source: number;
}

export interface StateSource {
  eventId: string;
  sourceId: string;
  lab: string | null;
  observedAt: number;
}

export interface StateOutsideCall {
  eventId: string;
  gene: string;
  diplotype: string | null;
  phenotype: string | null;
  activityScore: string | null;
  sourceId: string;
  lab: string | null;
  reportedAt: number;
}

export interface PgxPatientState {
  patientId: string;
  sources: StateSource[];
  sites: StateSite[];
  outsideCalls: StateOutsideCall[];
  retracted: string[];
  profiles: Record<string, string>;
  alerts: Record<string, string>;
  warnings: string[];
  kbVersion: string;
  updatedAt: number;
}

export interface AuditEvent {
  auditId: string;
  at: number;
  service: string;
  actor: string;
  roles: string[];
  action: string;
  resource: string;
  patientId: string | null;
  outcome: 'ALLOWED' | 'DENIED' | 'ERROR';
  reason: string | null;
  purpose: string | null;
  requestId: string;
  prevHash: string;
  hash: string;
}
