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
