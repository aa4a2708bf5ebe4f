import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../platform/errors.ts';
import { callGenes, loadKnowledgeBase, type GeneCall, type SiteGenotype } from '../../domain/pgx/index.ts';

const kb = loadKnowledgeBase();

/** Every defining position of `gene`, homozygous reference. */
function reference(gene: string): SiteGenotype[] {
  const g = kb.genes[gene]!;
  return g.positions.map(([pos, , ref, alts]) => ({ chrom: g.chrom, pos, ref, alts, gt: [0, 0], phased: false, phaseSet: null }));
}

/** Sets the genotype at `rsid` to the given bases (e.g. ['G', 'A']); null = no call. */
function set(sites: SiteGenotype[], gene: string, rsid: string, bases: [string | null, string | null], phase?: { ps: number | null }): SiteGenotype[] {
  const g = kb.genes[gene]!;
  const row = g.positions.find(([, id]) => id === rsid);
  if (row === undefined) throw new Error(`${gene} has no ${rsid}`);
  return sites.map((s) => {
    if (s.pos !== row[0]) return s;
    const table = [s.ref, ...s.alts];
    const gt = bases.map((b) => (b === null ? null : table.indexOf(b)));
    if (gt.some((x) => x === -1)) throw new Error(`${rsid}: base not in ${table.join(',')}`);
    return { ...s, gt, phased: phase !== undefined, phaseSet: phase?.ps ?? null };
  });
}

const without = (sites: SiteGenotype[], gene: string, rsid: string): SiteGenotype[] => {
  const pos = kb.genes[gene]!.positions.find(([, id]) => id === rsid)![0];
  return sites.filter((s) => s.pos !== pos);
};

function call(gene: string, sites: SiteGenotype[], candidates = false): GeneCall {
  return callGenes(sites, kb, { genes: [gene], candidates })[0]!;
}

const names = (c: GeneCall): string[] => c.diplotypes.map((d) => d.name);

describe('callGenes', () => {
  it('calls an all-reference CYP2C19 sample *38/*38, Normal Metabolizer (GRCh38 reference is *38)', () => {
    const c = call('CYP2C19', reference('CYP2C19'));
    expect(c).toMatchObject({ status: 'called', phenotype: 'Normal Metabolizer', missingPositions: [] });
    expect(names(c)).toEqual(['*38/*38']);
  });

  it('calls CYP2C19 *1/*2 (Intermediate) and *2/*2 (Poor) from the *2-defining SNPs', () => {
    let sites = set(reference('CYP2C19'), 'CYP2C19', 'rs3758581', ['G', 'G']);
    sites = set(sites, 'CYP2C19', 'rs12769205', ['A', 'G']);
    const het = call('CYP2C19', set(sites, 'CYP2C19', 'rs4244285', ['G', 'A']));
    expect(names(het)).toEqual(['*1/*2']);
    expect(het.phenotype).toBe('Intermediate Metabolizer');
    const hom = call('CYP2C19', set(set(sites, 'CYP2C19', 'rs12769205', ['G', 'G']), 'CYP2C19', 'rs4244285', ['A', 'A']));
    expect(names(hom)).toEqual(['*2/*2']);
    expect(hom.phenotype).toBe('Poor Metabolizer');
  });

  it('treats an absent position and an explicit no-call as missing, never as reference', () => {
    const absent = call('CYP3A5', without(reference('CYP3A5'), 'CYP3A5', 'rs776746'));
    expect(absent.missingPositions).toEqual(['rs776746 (7:99672916)']);
    // *3 is defined only at rs776746: with it missing, *3 cannot be called, *1/*1 remains.
    expect(names(absent)).toEqual(['*1/*1']);
    expect(absent.warnings.join(' ')).toMatch(/1 of 5 defining positions missing \(1 not in the input\)/);
    const nocall = call('CYP3A5', set(reference('CYP3A5'), 'CYP3A5', 'rs776746', [null, null]));
    expect(nocall.missingPositions).toEqual(['rs776746 (7:99672916)']);
    expect(nocall.warnings.join(' ')).toMatch(/no-call/);
    const half = call('CYP3A5', set(reference('CYP3A5'), 'CYP3A5', 'rs776746', ['T', null]));
    expect(half.missingPositions).toEqual(['rs776746 (7:99672916)']);
  });

  it('treats a REF that disagrees with the definition as missing, with a warning', () => {
    const sites = reference('CYP3A5').map((s) => (s.pos === 99672916 ? { ...s, ref: 'G', alts: ['C'] } : s));
    const c = call('CYP3A5', sites);
    expect(c.missingPositions).toEqual(['rs776746 (7:99672916)']);
    expect(c.warnings.join(' ')).toMatch(/REF G differs from the definition's T/);
  });

  it('is not called when no defining position has data, and ignores non-PGx sites and "chr" names', () => {
    const other: SiteGenotype = { chrom: 'chr1', pos: 12345, ref: 'A', alts: ['G'], gt: [0, 1], phased: false, phaseSet: null };
    const c = call('TPMT', [other]);
    expect(c.status).toBe('not_called');
    expect(c.missingPositions).toHaveLength(kb.genes.TPMT!.positions.length);
    const withChr = reference('TPMT').map((s) => ({ ...s, chrom: `chr${s.chrom}` }));
    expect(names(call('TPMT', [other, ...withChr]))).toEqual(['*1/*1']);
  });

  it('explores unphased heterozygous sites: TPMT *1/*3A ranks above *3B/*3C, and the alternative is named', () => {
    let sites = set(reference('TPMT'), 'TPMT', 'rs1142345', ['T', 'C']);
    sites = set(sites, 'TPMT', 'rs1800460', ['C', 'T']);
    const c = call('TPMT', sites, true);
    expect(names(c)).toEqual(['*1/*3A']);
    expect(c.candidates.map((d) => d.name)).toEqual(['*1/*3A', '*3B/*3C']);
    expect(c.phenotype).toBe('Intermediate Metabolizer');
    expect(c.warnings.join(' ')).toMatch(/also fits \*3B\/\*3C .*Poor Metabolizer/);
  });

  it('uses phase: TPMT variants on different chromosomes are *3B/*3C, on one chromosome *1/*3A', () => {
    const trans = set(set(reference('TPMT'), 'TPMT', 'rs1142345', ['T', 'C'], { ps: 7 }), 'TPMT', 'rs1800460', ['T', 'C'], { ps: 7 });
    const t = call('TPMT', trans, true);
    expect(names(t)).toEqual(['*3B/*3C']);
    expect(t.candidates.map((d) => d.name)).toEqual(['*3B/*3C']);
    expect(t.phenotype).toBe('Poor Metabolizer');
    const cis = set(set(reference('TPMT'), 'TPMT', 'rs1142345', ['T', 'C'], { ps: 7 }), 'TPMT', 'rs1800460', ['C', 'T'], { ps: 7 });
    expect(names(call('TPMT', cis))).toEqual(['*1/*3A']);
    // Different phase sets are not phased with each other: both phasings are possible again.
    const apart = set(set(reference('TPMT'), 'TPMT', 'rs1142345', ['T', 'C'], { ps: 7 }), 'TPMT', 'rs1800460', ['T', 'C'], { ps: 9 });
    expect(call('TPMT', apart, true).candidates.map((d) => d.name)).toEqual(['*1/*3A', '*3B/*3C']);
  });

  it('reports ties with the reason: UGT1A1 with the repeat missing', () => {
    let sites = without(reference('UGT1A1'), 'UGT1A1', 'rs3064744');
    sites = set(sites, 'UGT1A1', 'rs887829', ['C', 'T']);
    const c = call('UGT1A1', sites);
    expect(c.status).toBe('ambiguous');
    expect(names(c)).toEqual(['*1/*80', '*1/*80+*28', '*1/*80+*37']);
    expect(c.missingPositions).toEqual(['rs3064744 (2:233760233)']);
    expect(c.warnings.join(' ')).toMatch(/3 diplotypes tie at score .*missing positions/);
  });

  it('does not call a gene with an ALT no allele describes, except DPYD, NUDT15 and TPMT', () => {
    const novel = reference('CYP2C19').map((s) => (s.pos === 94781859 ? { ...s, alts: ['A', 'T'], gt: [0, 2] } : s));
    const c = call('CYP2C19', novel);
    expect(c.status).toBe('not_called');
    expect(c.warnings.join(' ')).toMatch(/ALT T is not described by any CYP2C19 allele/);
    const tpmt = reference('TPMT').map((s) => (s.pos === 18139027 ? { ...s, alts: ['G', 'A'], gt: [0, 2] } : s));
    const t = call('TPMT', tpmt);
    expect(names(t)).toEqual(['*1/*1']);
    expect(t.warnings.join(' ')).toMatch(/read as reference/);
  });

  it('falls back to rs4149056 for SLCO1B1 when no star-allele diplotype fits', () => {
    // A novel ALT elsewhere blocks the star-allele call; rs4149056 T/C alone gives Decreased Function.
    let sites = reference('SLCO1B1').map((s) => (s.pos === 21141575 ? { ...s, alts: ['T', 'C'], gt: [0, 2] } : s));
    sites = set(sites, 'SLCO1B1', 'rs4149056', ['T', 'C']);
    const c = call('SLCO1B1', sites);
    expect(c.status).toBe('called');
    expect(c.phenotype).toBe('Decreased Function');
    expect(names(c)).toEqual(['rs4149056 T/rs4149056 C']);
    expect(c.warnings.join(' ')).toMatch(/rs4149056 alone/);
  });

  it('DPYD: more than two unphased variants use the two lowest-function ones', () => {
    // c.1905+1G>A (*2A, no function), c.2846A>T (decreased) and c.85T>C (*9A, normal), all heterozygous.
    let sites = set(reference('DPYD'), 'DPYD', 'rs3918290', ['C', 'T']);
    sites = set(sites, 'DPYD', 'rs67376798', ['T', 'A']);
    sites = set(sites, 'DPYD', 'rs1801265', ['A', 'G']);
    const c = call('DPYD', sites);
    expect(c.status).toBe('called');
    expect(c.diplotypes[0]!.alleles.slice().sort()).toEqual(['c.1905+1G>A (*2A)', 'c.2846A>T'].sort());
    expect(c.activityScore).toBe('0.5');
    expect(c.phenotype).toBe('Poor Metabolizer');
    expect(c.warnings.join(' ')).toMatch(/lowest-function/);
  });

  it('DPYD: phased, each chromosome counts as its lowest-function variant', () => {
    // *2A and c.2846A>T on the same chromosome, the other chromosome reference: activity 1.0.
    let sites = set(reference('DPYD'), 'DPYD', 'rs3918290', ['T', 'C'], { ps: 1 });
    sites = set(sites, 'DPYD', 'rs67376798', ['A', 'T'], { ps: 1 });
    const c = call('DPYD', sites);
    expect(c.diplotypes[0]!.alleles).toContain('Reference');
    expect(c.activityScore).toBe('1.0');
    expect(c.phenotype).toBe('Intermediate Metabolizer');
  });

  it('DPYD: two unphased heterozygous variants are called as a diplotype, assumed in trans', () => {
    let sites = set(reference('DPYD'), 'DPYD', 'rs3918290', ['C', 'T']);
    sites = set(sites, 'DPYD', 'rs67376798', ['T', 'A']);
    const c = call('DPYD', sites);
    expect(c.activityScore).toBe('0.5');
    expect(c.warnings.join(' ')).toMatch(/different chromosomes/);
  });

  it('reports the CYP2C9 extra position rs12777823 and keeps candidates empty unless asked', () => {
    const g = kb.genes.CYP2C9!;
    const [pos, , ref, alts] = g.extraPositions[0]!;
    const sites = [...reference('CYP2C9'), { chrom: '10', pos, ref, alts, gt: [0, 1], phased: false, phaseSet: null }];
    const c = call('CYP2C9', sites);
    expect(c.extraGenotypes).toEqual({ rs12777823: 'G/A' });
    expect(c.candidates).toEqual([]);
    expect(names(c)).toEqual(['*1/*1']);
    expect(c.activityScore).toBe('2.0');
  });

  it('calls all ten genes by default and refuses an unknown gene', () => {
    expect(callGenes([], kb).map((c) => c.gene)).toEqual(['CYP2C19', 'CYP2C9', 'CYP3A5', 'CYP4F2', 'DPYD', 'NUDT15', 'SLCO1B1', 'TPMT', 'UGT1A1', 'VKORC1']);
    expect(() => callGenes([], kb, { genes: ['CYP2D6'] })).toThrow(InvalidInputError);
  });
});
