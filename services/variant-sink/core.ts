/**
 * Pure core of the variant sink: a decoded genotype event (per patient) or variant block (many
 * samples) becomes rows of `variant_calls`, one per call either way.
 * No I/O here; the runner decodes, inserts and commits.
 */
import { createHash } from 'node:crypto';
import { InvalidInputError } from '../../platform/errors.ts';
import { blockCalls, type GenotypeCall, type GenotypeCallSet, type Lineage, type VariantBlock } from '../../platform/events.ts';

export const VARIANT_TABLE = 'variant_calls';

export interface RecordMeta {
  topic: string;
  partition: number;
  offset: string;
  /** Kafka record timestamp, epoch ms. */
  timestamp: number;
}

export interface VariantCallRow {
  event_id: string;
  call_index: number;
  patient_id: string;
  sample_id: string;
  source_kind: string;
  assembly: string;
  chrom: string;
  pos: number;
  ref: string;
  alts: string[];
  gt: (number | null)[];
  zygosity: Zygosity;
  phased: boolean;
  phase_set: number | null;
  depth: number | null;
  genotype_quality: number | null;
  quality: number | null;
  filters: string[];
  variant_id: string | null;
  gene: string | null;
  record_ref: string;
  source_id: string;
  source_sha256: string;
  lab: string | null;
  connector: string;
  pipeline_version: string;
  /** Unix seconds with milliseconds, the form DateTime64(3) parses without ambiguity. */
  ingested_at: string;
  published_at: string;
  kafka_topic: string;
  kafka_partition: number;
  kafka_offset: string;
}

export type Zygosity = 'hom_ref' | 'het' | 'hom_alt' | 'hemi_ref' | 'hemi_alt' | 'no_call' | 'partial';

/** Zygosity from GT allele indices; a call with some alleles missing is 'partial' (e.g. 0/.). */
export function zygosity(gt: readonly (number | null)[]): Zygosity {
  const known = gt.filter((a): a is number => a !== null);
  if (known.length === 0) return 'no_call';
  if (known.length < gt.length) return 'partial';
  if (gt.length === 1) return known[0] === 0 ? 'hemi_ref' : 'hemi_alt';
  if (known.every((a) => a === 0)) return 'hom_ref';
  if (known.every((a) => a === known[0])) return 'hom_alt';
  return 'het';
}

const CHROMS = new Set([...Array.from({ length: 22 }, (_, i) => String(i + 1)), 'X', 'Y', 'MT']);

function checkCall(call: GenotypeCall, index: number): void {
  const where = `calls[${index}]`;
  if (!CHROMS.has(call.chrom)) throw new InvalidInputError(`${where}.chrom '${call.chrom}' is not 1-22, X, Y or MT (without 'chr')`);
  if (!Number.isSafeInteger(call.pos) || call.pos < 1) throw new InvalidInputError(`${where}.pos must be a positive 1-based position`);
  if (call.gt.length === 0) throw new InvalidInputError(`${where}.gt is empty; a missing call is [null, null]`);
  for (const allele of call.gt) {
    if (allele !== null && (allele < 0 || allele > call.alts.length)) {
      throw new InvalidInputError(`${where}.gt allele index ${allele} is outside 0..${call.alts.length}`);
    }
  }
}

/** Maps one event; throws InvalidInputError (the record is dead-lettered) when it breaks an invariant. */
export function toRows(event: GenotypeCallSet, meta: RecordMeta): VariantCallRow[] {
  if (event.calls.length === 0) throw new InvalidInputError('genotype event has no calls');
  if (event.patientId === '') throw new InvalidInputError('genotype event has an empty patientId');
  return event.calls.map((call, index) => {
    checkCall(call, index);
    return row(event, event.patientId, event.sampleId, call, index, meta);
  });
}

/** Maps a variant block: one row per call, numbered in block order (site by site, column by column). */
export function blockRows(block: VariantBlock, meta: RecordMeta): VariantCallRow[] {
  if (block.sites.length === 0) throw new InvalidInputError('variant block has no sites');
  const rows: VariantCallRow[] = [];
  for (const { sample, call } of blockCalls(block)) {
    if (sample.patientId === '') throw new InvalidInputError(`variant block sample column ${sample.column} has an empty patientId`);
    checkCall(call, rows.length);
    rows.push(row(block, sample.patientId, sample.sampleId, call, rows.length, meta));
  }
  if (block.sites.some((s) => s.calls.length === 0)) throw new InvalidInputError('variant block has a site without calls');
  return rows;
}

function row(
  event: { eventId: string; sourceKind: string; assembly: string; lineage: Lineage },
  patientId: string,
  sampleId: string,
  call: GenotypeCall,
  index: number,
  meta: RecordMeta,
): VariantCallRow {
  return {
    event_id: event.eventId,
    call_index: index,
    patient_id: patientId,
    sample_id: sampleId,
    source_kind: event.sourceKind,
    assembly: event.assembly,
    chrom: call.chrom,
    pos: call.pos,
    ref: call.ref,
    alts: call.alts,
    gt: call.gt,
    zygosity: zygosity(call.gt),
    phased: call.phased,
    phase_set: call.phaseSet,
    depth: call.depth,
    genotype_quality: call.genotypeQuality,
    quality: call.quality,
    filters: call.filters,
    variant_id: call.variantId,
    gene: call.gene,
    record_ref: call.recordRef,
    source_id: event.lineage.sourceId,
    source_sha256: event.lineage.sourceSha256,
    lab: event.lineage.lab,
    connector: event.lineage.connector,
    pipeline_version: event.lineage.pipelineVersion,
    ingested_at: unixSeconds(event.lineage.ingestedAt),
    published_at: unixSeconds(meta.timestamp),
    kafka_topic: meta.topic,
    kafka_partition: meta.partition,
    kafka_offset: meta.offset,
  };
}

export function unixSeconds(epochMs: number): string {
  return (epochMs / 1000).toFixed(3);
}

/**
 * Deduplication token of an insert: a hash of the rows' whole content, so an insert retried after a
 * timeout (or the same batch re-sent after a crash) is stored once, while new data that happens to
 * sit at the same Kafka coordinates (a re-created topic) is never mistaken for a duplicate.
 */
export function dedupToken(rows: readonly object[]): string {
  const hash = createHash('sha256');
  for (const r of rows) hash.update(JSON.stringify(r)).update('\n');
  return hash.digest('hex');
}
