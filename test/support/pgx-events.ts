/**
 * Genotype and outside-call events for PGx tests, built from the committed knowledge base: every
 * defining position of a gene is present (hom-ref unless told otherwise), as a VCF connector
 * publishes them.
 */
import { createHash } from 'node:crypto';
import { loadKnowledgeBase } from '../../domain/pgx/index.ts';
import type { GenotypeCall, GenotypeCallSet, PgxOutsideCall } from '../../platform/events.ts';

const kb = loadKnowledgeBase();
const id = (...parts: unknown[]): string => createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);

/** Hom-ref calls at every defining position of `gene`, with `alt` genotypes at the named rsids. */
export function geneCalls(gene: string, alt: Record<string, [number, number]> = {}): GenotypeCall[] {
  const g = kb.genes[gene];
  if (g === undefined) throw new Error(`no gene ${gene} in the knowledge base`);
  return g.positions.map(([pos, rsid, ref, alts]) => ({
    chrom: g.chrom,
    pos,
    ref,
    alts,
    gt: rsid !== null && alt[rsid] !== undefined ? alt[rsid] : [0, 0],
    phased: false,
    phaseSet: null,
    depth: 40,
    genotypeQuality: 99,
    quality: 900,
    filters: ['PASS'],
    variantId: rsid,
    gene,
    recordRef: `panel.vcf:${g.chrom}:${pos}`,
  }));
}

export function genotypes(patientId: string, calls: GenotypeCall[], options: { source?: string; ingestedAt?: number; assembly?: 'GRCh38' | 'GRCh37' } = {}): GenotypeCallSet {
  const source = options.source ?? `${patientId}/panel.vcf`;
  return {
    eventId: id('g', patientId, source, calls.length),
    patientId,
    sampleId: `S-${patientId}`,
    sourceKind: 'VCF',
    assembly: options.assembly ?? 'GRCh38',
    calls,
    lineage: { sourceId: source, sourceSha256: id(source), lab: 'Genomics Core Lab', ingestedAt: options.ingestedAt ?? Date.UTC(2026, 10, 20), connector: 'vcf', pipelineVersion: '0.1.0' },
  };
}

export function outside(patientId: string, gene: string, diplotype: string, phenotype: string | null, options: { status?: PgxOutsideCall['status']; supersedes?: string; source?: string; at?: number } = {}): PgxOutsideCall {
  const source = options.source ?? `report/${patientId}/${gene}`;
  return {
    eventId: id('o', patientId, gene, diplotype, options.status ?? 'FINAL', source),
    patientId,
    gene,
    diplotype,
    phenotype,
    activityScore: null,
    status: options.status ?? 'FINAL',
    supersedesEventId: options.supersedes ?? null,
    method: 'targeted genotyping',
    reportedAt: options.at ?? Date.UTC(2026, 10, 21),
    confidence: 1,
    lineage: { sourceId: source, sourceSha256: id(source), lab: 'Reference Lab', ingestedAt: options.at ?? Date.UTC(2026, 10, 21), connector: 'lab-report', pipelineVersion: '0.1.0' },
  };
}

const IUPAC: Record<string, string[]> = { R: ['A', 'G'], Y: ['C', 'T'], S: ['G', 'C'], W: ['A', 'T'], K: ['G', 'T'], M: ['A', 'C'], B: ['C', 'G', 'T'], D: ['A', 'G', 'T'], H: ['A', 'C', 'T'], V: ['A', 'C', 'G'], N: ['A', 'C', 'G', 'T'] };

/**
 * Unphased calls at every defining position of `gene` for the diplotype `a`/`b` (named alleles of
 * the definitions without IUPAC wobbles), as a sequencing pipeline would report them.
 */
export function diplotypeCalls(gene: string, a: string, b: string): GenotypeCall[] {
  const g = kb.genes[gene];
  if (g === undefined) throw new Error(`no gene ${gene} in the knowledge base`);
  const cells = (name: string): (string | null)[] => {
    const allele = g.alleles.find(([n]) => n === name);
    if (allele === undefined) throw new Error(`no allele ${name} of ${gene}`);
    return allele[1];
  };
  const [ca, cb] = [cells(a), cells(b)];
  const index = (i: number, base: string | null | undefined): number => {
    const [, , ref, alts] = g.positions[i]!;
    if (base === null || base === undefined || base === ref) return 0;
    // An IUPAC wobble matches any of its bases: take the reference base when it is one of them.
    const bases = IUPAC[base];
    if (bases !== undefined) return bases.includes(ref) ? 0 : alts.findIndex((x) => bases.includes(x)) + 1;
    const k = alts.indexOf(base);
    if (k < 0) throw new Error(`${gene} ${a}/${b}: base ${base} at position ${i} is not REF or a listed ALT`);
    return k + 1;
  };
  return geneCalls(gene).map((call, i) => ({ ...call, gt: [index(i, ca[i]), index(i, cb[i])].sort((x, y) => x - y) }));
}
