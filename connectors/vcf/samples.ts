/**
 * Sample → patient mapping. Only pseudonymous ids go on the wire: either a mapping file supplied
 * with the VCF (sample, patient id, optional sample id), or a rule applied to the header's sample
 * names (a keyed hash, so the same sample name always gives the same pseudonym and the name cannot
 * be recovered without the key). Samples without a mapping are reported, never dropped silently.
 */
import { createHmac, createHash } from 'node:crypto';
import { InvalidInputError } from '../../platform/errors.ts';

export interface MappedSample {
  patientId: string;
  sampleId: string;
}

export type SampleMapping =
  | { kind: 'file'; entries: Map<string, { patientId: string; sampleId: string | null }> }
  | { kind: 'keyed-hash'; key: string };

/** Pseudonymous ids: letters, digits and . _ - : only, 1-128 characters. */
const ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Parses a mapping file: tab-separated `sample<TAB>patient[<TAB>sampleId]`, '#' comments and an
 * optional header row (`sample\tpatient...`). CRLF is fine.
 */
export function parseSampleMap(text: string, name = 'sample map'): SampleMapping {
  const entries = new Map<string, { patientId: string; sampleId: string | null }>();
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const cols = line.split('\t');
    if (i === 0 && /^sample/i.test(cols[0] ?? '') && /patient/i.test(cols[1] ?? '')) continue;
    const [sample = '', patient = '', sampleId] = cols;
    if (cols.length < 2 || cols.length > 3 || sample === '' || patient === '') {
      throw new InvalidInputError(`${name} line ${i + 1}: expected 'sample<TAB>patient id[<TAB>sample id]'`);
    }
    if (!ID.test(patient)) throw new InvalidInputError(`${name} line ${i + 1}: patient id must be 1-128 of A-Z a-z 0-9 . _ : -`);
    if (sampleId !== undefined && sampleId !== '' && !ID.test(sampleId)) {
      throw new InvalidInputError(`${name} line ${i + 1}: sample id must be 1-128 of A-Z a-z 0-9 . _ : -`);
    }
    if (entries.has(sample)) throw new InvalidInputError(`${name} line ${i + 1}: sample listed twice`);
    entries.set(sample, { patientId: patient, sampleId: sampleId === undefined || sampleId === '' ? null : sampleId });
  }
  if (entries.size === 0) throw new InvalidInputError(`${name}: no mappings in the file`);
  return { kind: 'file', entries };
}

export interface ResolvedSamples {
  /** Per sample column: its ids, or undefined when unmapped. */
  columns: (MappedSample | undefined)[];
  /** Names of the header's samples that have no mapping (reported to the submitter, not logged). */
  unmapped: string[];
}

/**
 * Resolves every sample column. Without a sample id in the map, the sample id is a hash of the file
 * and the sample name, so no source identifier reaches the wire.
 */
export function resolveSamples(names: readonly string[], mapping: SampleMapping, fileSha256: string): ResolvedSamples {
  const unmapped: string[] = [];
  const columns = names.map((name): MappedSample | undefined => {
    if (mapping.kind === 'keyed-hash') {
      const h = createHmac('sha256', mapping.key).update(name).digest('hex');
      return { patientId: `pt-${h.slice(0, 24)}`, sampleId: `sm-${h.slice(24, 48)}` };
    }
    const entry = mapping.entries.get(name);
    if (entry === undefined) {
      unmapped.push(name);
      return undefined;
    }
    const sampleId = entry.sampleId ?? `sm-${createHash('sha256').update(`${fileSha256}\u0000${name}`).digest('hex').slice(0, 24)}`;
    return { patientId: entry.patientId, sampleId };
  });
  return { columns, unmapped };
}
