/** Builders of realistic events for tests: PGx panel positions on GRCh38, with lineage. */
import { createHash } from 'node:crypto';
import type { GenotypeCall, GenotypeCallSet } from '../../platform/events.ts';

const PANEL: [gene: string, chrom: string, pos: number, rsid: string, ref: string, alt: string][] = [
  ['CYP2C19', '10', 94761900, 'rs12248560', 'C', 'T'],
  ['CYP2C19', '10', 94781859, 'rs4244285', 'G', 'A'],
  ['CYP2C9', '10', 94942290, 'rs1799853', 'C', 'T'],
  ['VKORC1', '16', 31096368, 'rs9923231', 'C', 'T'],
  ['SLCO1B1', '12', 21178615, 'rs4149056', 'T', 'C'],
  ['DPYD', '1', 97450058, 'rs3918290', 'C', 'T'],
];

export function panelCall(index: number, gt: (number | null)[]): GenotypeCall {
  const site = PANEL[index % PANEL.length];
  if (site === undefined) throw new Error('unreachable');
  const [gene, chrom, pos, rsid, ref, alt] = site;
  return {
    chrom,
    pos,
    ref,
    alts: [alt],
    gt,
    phased: false,
    phaseSet: null,
    depth: 30 + (index % 20),
    genotypeQuality: 99,
    quality: 812.5,
    filters: ['PASS'],
    variantId: rsid,
    gene,
    recordRef: `panel.vcf:line ${100 + index}`,
  };
}

/** Event n of a synthetic run: patient n % patients, `calls` calls, deterministic id. */
export function genotypeEvent(n: number, options: { patients?: number; calls?: number; runId?: string } = {}): GenotypeCallSet {
  const patients = options.patients ?? 50;
  const runId = options.runId ?? 'run-1';
  const patient = `PT-${String(n % patients).padStart(5, '0')}`;
  const calls = Array.from({ length: options.calls ?? 3 }, (_, i) => panelCall(n + i, [0, (n + i) % 3 === 0 ? 1 : 0]));
  const sha = createHash('sha256').update(runId).digest('hex');
  return {
    eventId: createHash('sha256').update(`${sha}:${n}`).digest('hex').slice(0, 32),
    patientId: patient,
    sampleId: `SM-${patient.slice(3)}`,
    sourceKind: 'VCF',
    assembly: 'GRCh38',
    calls,
    lineage: {
      sourceId: `${runId}/panel.vcf`,
      sourceSha256: sha,
      lab: 'Genomics Core Lab',
      ingestedAt: Date.UTC(2026, 10, 20, 9, 0, 0),
      connector: 'test',
      pipelineVersion: '0.1.0',
    },
  };
}
