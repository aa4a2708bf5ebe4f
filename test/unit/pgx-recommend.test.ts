import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../platform/errors.ts';
import {
  drugs,
  loadKnowledgeBase,
  mergeGeneStates,
  outsideState,
  phenotypeOf,
  recommend,
  validateKnowledgeBase,
  type GeneState,
} from '../../domain/pgx/index.ts';

const kb = loadKnowledgeBase();
const called = (gene: string, phenotype: string | null, activityScore: string | null = null, diplotype: string | null = null): GeneState => ({
  gene,
  diplotype,
  phenotype,
  activityScore,
  source: 'called',
});
const outside = (gene: string, phenotype: string | null, diplotype: string | null = null): GeneState => ({ ...called(gene, phenotype, null, diplotype), source: 'outside' });

describe('knowledge base', () => {
  it('records its data version and source, and refuses another format', () => {
    // Data release plus a hash of the converted content: any change to the facts is a new version.
    expect(kb.version).toMatch(/^2025-11-05\+[0-9a-f]{8}$/);
    expect(kb.source).toBe('PharmCAT 3.1.1, data version 2025-11-05 (CPIC content, CC0; recommendation records 2024-03-25)');
    expect(Object.keys(kb.genes).sort()).toEqual(['CYP2C19', 'CYP2C9', 'CYP3A5', 'CYP4F2', 'DPYD', 'NUDT15', 'SLCO1B1', 'TPMT', 'UGT1A1', 'VKORC1']);
    expect(kb.genes.CYP4F2!.phenotypes).toBeNull();
    expect(() => validateKnowledgeBase({ format: 'other' })).toThrow(InvalidInputError);
  });

  it('lists the drugs with their public RxNorm ingredient codes and guideline links', () => {
    const byName = Object.fromEntries(drugs(kb).map((d) => [d.name, d]));
    expect(Object.keys(byName).sort()).toEqual(['azathioprine', 'capecitabine', 'clopidogrel', 'fluorouracil', 'mercaptopurine', 'simvastatin', 'thioguanine', 'warfarin']);
    expect(byName.clopidogrel).toMatchObject({ rxnorm: ['32968'], genes: ['CYP2C19'] });
    expect(byName.warfarin).toMatchObject({ rxnorm: ['11289'], genes: ['CYP2C9', 'CYP4F2', 'VKORC1'] });
    expect(byName.mercaptopurine!.rxnorm).toEqual(['103']);
    for (const d of drugs(kb)) expect(d.guidelineUrl).toMatch(/^https:\/\//);
  });
});

describe('phenotypeOf', () => {
  it('normalises reported diplotypes with the CPIC tables, in either order and spacing', () => {
    expect(phenotypeOf('CYP2C19', '*2/*1', kb)).toEqual({ phenotype: 'Intermediate Metabolizer', activityScore: null });
    expect(phenotypeOf('cyp2c19', ' *17 / *17 ', kb)?.phenotype).toBe('Ultrarapid Metabolizer');
    expect(phenotypeOf('CYP2C9', '*1/*3', kb)).toEqual({ phenotype: 'Intermediate Metabolizer', activityScore: '1.0' });
    expect(phenotypeOf('DPYD', 'Reference/c.1905+1G>A (*2A)', kb)).toEqual({ phenotype: 'Intermediate Metabolizer', activityScore: '1.0' });
    expect(phenotypeOf('SLCO1B1', '*1/*45.001', kb)?.phenotype).toBe(phenotypeOf('SLCO1B1', '*1/*45', kb)?.phenotype);
    expect(phenotypeOf('TPMT', '*1/*999', kb)).toEqual({ phenotype: null, activityScore: null });
  });

  it('returns undefined for genes without a table here, so the reported phenotype passes through', () => {
    expect(phenotypeOf('CYP2D6', '*1/*4', kb)).toBeUndefined();
    expect(phenotypeOf('HLA-B', '*57:01/*08:01', kb)).toBeUndefined();
    expect(phenotypeOf('CYP4F2', '*1/*3', kb)).toBeUndefined();
    const { state, warnings } = outsideState('CYP2D6', { diplotype: '*4/*4', phenotype: 'Poor Metabolizer' }, kb);
    expect(state).toEqual({ gene: 'CYP2D6', diplotype: '*4/*4', phenotype: 'Poor Metabolizer', activityScore: null, source: 'outside' });
    expect(warnings).toEqual([]);
  });

  it('outside calls take the table phenotype and flag a disagreeing report', () => {
    const { state, warnings } = outsideState('CYP2C19', { diplotype: '*2/*2', phenotype: 'Intermediate Metabolizer' }, kb);
    expect(state.phenotype).toBe('Poor Metabolizer');
    expect(warnings.join(' ')).toMatch(/differs from the CPIC table/);
  });
});

describe('mergeGeneStates', () => {
  it('an outside call wins for a gene we could not call, and agreeing results keep our call', () => {
    expect(mergeGeneStates([called('CYP2C19', null), outside('CYP2C19', 'Poor Metabolizer')])).toEqual({ state: outside('CYP2C19', 'Poor Metabolizer'), conflict: null });
    expect(mergeGeneStates([outside('CYP2D6', 'Poor Metabolizer')]).state?.phenotype).toBe('Poor Metabolizer');
    const ours = called('CYP2C19', 'Poor Metabolizer', null, '*2/*2');
    expect(mergeGeneStates([outside('CYP2C19', 'poor metabolizer'), ours])).toEqual({ state: ours, conflict: null });
    expect(mergeGeneStates([])).toEqual({ state: null, conflict: null });
  });

  it('flags a disagreement and never resolves it silently', () => {
    const r = mergeGeneStates([called('CYP2C19', 'Normal Metabolizer', null, '*1/*1'), outside('CYP2C19', 'Poor Metabolizer', '*2/*2')]);
    expect(r.state).toBeNull();
    expect(r.conflict).toMatch(/CYP2C19: results disagree \(called \*1\/\*1: Normal Metabolizer; outside \*2\/\*2: Poor Metabolizer\)/);
    expect(() => mergeGeneStates([called('CYP2C19', null), called('TPMT', null)])).toThrow(InvalidInputError);
  });
});

describe('recommend', () => {
  it('clopidogrel: one recommendation per CPIC population', () => {
    const recs = recommend('clopidogrel', [called('CYP2C19', 'Poor Metabolizer')], kb);
    expect(recs.map((r) => r.population).sort()).toEqual(['CVI ACS PCI', 'CVI non-ACS non-PCI', 'NVI']);
    const acs = recs.find((r) => r.population === 'CVI ACS PCI')!;
    expect(acs).toMatchObject({ classification: 'Strong', actionable: true, rxnorm: ['32968'], phenotypes: { CYP2C19: 'Poor Metabolizer' } });
    expect(acs.alternatives).toEqual(['prasugrel', 'ticagrelor']);
    expect(acs.recommendation).toMatch(/^Avoid clopidogrel if possible/);
    expect(acs.guidelineUrl).toMatch(/^https:\/\//);
    expect(acs.guidelineName).toMatch(/CYP2C19 Genotype and Clopidogrel/);
    const normal = recommend('clopidogrel', [called('CYP2C19', 'Normal Metabolizer')], kb);
    expect(normal).toHaveLength(3);
    expect(normal.every((r) => !r.actionable)).toBe(true);
  });

  it('matches by activity score for DPYD, numerically', () => {
    const [r] = recommend('fluorouracil', [called('DPYD', 'Intermediate Metabolizer', '1.5')], kb);
    expect(r).toMatchObject({ classification: 'Moderate', actionable: true });
    expect(r!.recommendation).toMatch(/Reduce starting dose by 50%/);
    expect(recommend('capecitabine', [called('DPYD', 'Poor Metabolizer', '0')], kb)[0]!.recommendation).toMatch(/Avoid use of 5-fluorouracil/);
  });

  it('thiopurines need both genes, "No Result" when one is missing', () => {
    const both = recommend('azathioprine', [called('TPMT', 'Poor Metabolizer'), called('NUDT15', 'Normal Metabolizer')], kb);
    expect(both).toHaveLength(1);
    expect(both[0]).toMatchObject({ phenotypes: { TPMT: 'Poor Metabolizer', NUDT15: 'Normal Metabolizer' }, actionable: true });
    const tpmtOnly = recommend('mercaptopurine', [called('TPMT', 'Intermediate Metabolizer'), called('NUDT15', null)], kb);
    expect(tpmtOnly[0]!.phenotypes).toEqual({ NUDT15: 'No Result', TPMT: 'Intermediate Metabolizer' });
    expect(recommend('thioguanine', [], kb)).toEqual([]);
  });

  it('simvastatin by SLCO1B1 function; unknown drugs give nothing', () => {
    const [poor] = recommend('simvastatin', [called('SLCO1B1', 'Poor Function')], kb);
    expect(poor).toMatchObject({ classification: 'Strong', actionable: true, alternatives: ['alternative statin'] });
    expect(recommend('36567', [called('SLCO1B1', 'Normal Function')], kb)[0]!.actionable).toBe(false);
    expect(recommend('aspirin', [called('SLCO1B1', 'Poor Function')], kb)).toEqual([]);
  });

  it('warfarin: the curated CPIC 2017 summary, by ancestry, with the CYP4F2*3 adjustment', () => {
    const profile = [called('CYP2C9', 'Intermediate Metabolizer', '1.0', '*1/*3'), called('VKORC1', '-1639 AG', null, 'rs9923231 reference (C)/rs9923231 variant (T)'), called('CYP4F2', null, null, '*1/*3')];
    const recs = recommend('warfarin', profile, kb);
    expect(recs.every((r) => r.curated)).toBe(true);
    expect(new Set(recs.map((r) => r.population))).toEqual(new Set(['non-African ancestry', 'African ancestry']));
    // The dose-moving findings alert: CYP2C9 decreased function, VKORC1 -1639A, CYP4F2*3 (Optional).
    expect(recs.filter((r) => r.actionable).map((r) => r.recordId).sort()).toEqual([
      'warfarin-2017-african-cyp2c9-decreased',
      'warfarin-2017-african-vkorc1-sensitive',
      'warfarin-2017-non-african-cyp2c9-decreased',
      'warfarin-2017-non-african-cyp4f2',
      'warfarin-2017-non-african-vkorc1-sensitive',
    ]);
    expect(recs.find((r) => r.recordId === 'warfarin-2017-non-african-cyp4f2')?.classification).toBe('Optional');
    // An unremarkable genotype still gets the dosing guidance, but nothing that would raise an alert.
    const usual = recommend('warfarin', [called('CYP2C9', 'Normal Metabolizer', '2.0', '*1/*1'), called('VKORC1', '-1639 GG', null, 'rs9923231 reference (C)/rs9923231 reference (C)')], kb);
    expect(usual.length).toBeGreaterThan(0);
    expect(usual.some((r) => r.actionable)).toBe(false);
    expect(recommend('warfarin', [called('CYP2C9', 'Intermediate Metabolizer', '1.0', '*1/*5'), profile[1]!], kb).map((r) => r.recordId)).toContain('warfarin-2017-african-cyp2c9');
    expect(recommend('warfarin', [called('CYP4F2', null, null, '*1/*1')], kb)).toEqual([]);
  });
});
