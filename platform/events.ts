/**
 * TypeScript shapes of the Avro values in schemas/avro. Timestamps are epoch milliseconds.
 * A unit test checks that samples of these types are valid for the committed schemas.
 */
import { InvalidInputError } from './errors.ts';

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

/** The VCF connector's bulk events: many samples' non-reference calls, each site stated once. */
export interface VariantBlock {
  eventId: string;
  sourceKind: SourceKind;
  assembly: Assembly;
  chrom: string;
  samples: BlockSample[];
  sites: VariantSite[];
  lineage: Lineage;
}

export interface BlockSample {
  column: number;
  patientId: string;
  sampleId: string;
}

export interface VariantSite {
  pos: number;
  ref: string;
  alts: string[];
  quality: number | null;
  filters: string[];
  variantId: string | null;
  recordRef: string;
  calls: SampleCall[];
}

export interface SampleCall {
  column: number;
  gt: (number | null)[];
  phased: boolean;
  phaseSet: number | null;
  depth: number | null;
  genotypeQuality: number | null;
}

/**
 * A block's calls one by one, each with its sample and as a GenotypeCall (the shape every other
 * source uses), so consumers handle both topics alike. Throws when a call names a sample the block
 * does not list.
 */
export function* blockCalls(block: VariantBlock): Generator<{ sample: BlockSample; call: GenotypeCall }> {
  const byColumn = new Map(block.samples.map((s) => [s.column, s]));
  for (const site of block.sites) {
    for (const c of site.calls) {
      const sample = byColumn.get(c.column);
      if (sample === undefined) throw new InvalidInputError(`call at ${block.chrom}:${site.pos} names sample column ${c.column}, which the block does not list`);
      yield {
        sample,
        call: {
          chrom: block.chrom,
          pos: site.pos,
          ref: site.ref,
          alts: site.alts,
          gt: c.gt,
          phased: c.phased,
          phaseSet: c.phaseSet,
          depth: c.depth,
          genotypeQuality: c.genotypeQuality,
          quality: site.quality,
          filters: site.filters,
          variantId: site.variantId,
          gene: null,
          recordRef: site.recordRef,
        },
      };
    }
  }
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
