import { describe, expect, it } from 'vitest';
import { alertEvent, profileEvent } from '../../bench/poc-events.ts';
import { cardsFor, discovery, drugOf, parseCdsRequest, SUMMARY_MAX, type CatalogueDrug, type CdsRequest } from '../../services/point-of-care/cds.ts';
import { cdsRequest } from '../../services/point-of-care/client.ts';
import { PatientState } from '../../services/point-of-care/state.ts';

const CATALOGUE: CatalogueDrug[] = [
  { name: 'clopidogrel', rxnorm: ['32968'], genes: ['CYP2C19'], guidelineUrl: 'https://example.org/clopidogrel' },
  { name: 'warfarin', rxnorm: ['11289'], genes: ['CYP2C9', 'CYP4F2', 'VKORC1'], guidelineUrl: 'https://example.org/warfarin' },
];
const CLOPIDOGREL = { rxnorm: '32968', display: 'clopidogrel' };
const pos = (offset: number) => ({ partition: 0, offset: BigInt(offset), publishedAt: 1_763_800_000_000 });

function parsed(body: object, service = 'pgx-order-sign'): CdsRequest {
  const r = parseCdsRequest(service, body);
  if (!r.ok) throw new Error(r.reason);
  return r.value;
}

describe('CDS Hooks discovery and requests', () => {
  it('advertises order-select and order-sign with a Patient prefetch template', () => {
    const { services } = discovery() as { services: { hook: string; id: string; prefetch: Record<string, string> }[] };
    expect(services.map((s) => [s.hook, s.id])).toEqual([
      ['order-select', 'pgx-order-select'],
      ['order-sign', 'pgx-order-sign'],
    ]);
    expect(services[0]?.prefetch).toEqual({ patient: 'Patient/{{context.patientId}}' });
  });

  it.each([
    [{}, /hook must be 'order-sign'/],
    [{ hook: 'order-sign' }, /hookInstance/],
    [{ hook: 'order-sign', hookInstance: 'x' }, /context must be an object/],
    [{ hook: 'order-sign', hookInstance: 'x', context: { draftOrders: { resourceType: 'Bundle' } } }, /context.patientId is required/],
    [{ hook: 'order-sign', hookInstance: 'x', context: { patientId: 'P', draftOrders: [] } }, /draftOrders must be a FHIR Bundle/],
    [{ hook: 'order-sign', hookInstance: 'x', context: { patientId: 'P', draftOrders: { resourceType: 'Bundle', entry: [{}] } } }, /entry\[0\]\.resource must be a FHIR resource/],
    [{ hook: 'order-sign', hookInstance: 'x', context: { patientId: 'P', draftOrders: { resourceType: 'Bundle' } }, prefetch: { patient: { resourceType: 'Observation' } } }, /prefetch.patient must be a FHIR Patient/],
  ])('refuses a malformed request with a reason (%#)', (body, reason) => {
    const r = parseCdsRequest('pgx-order-sign', body);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.reason).toMatch(reason);
  });

  it('order-select needs selections and checks only the selected orders', () => {
    const body = cdsRequest('order-select', 'P', [CLOPIDOGREL, { rxnorm: '11289', display: 'warfarin' }]) as { context: { selections: string[] } };
    expect(parseCdsRequest('pgx-order-select', { ...body, context: { ...body.context, selections: undefined } })).toMatchObject({ ok: false });
    body.context.selections = ['MedicationRequest/draft-2'];
    expect(parsed(body, 'pgx-order-select').orders.map((o) => o.ref)).toEqual(['MedicationRequest/draft-2']);
  });

  it('maps orders to CPIC drugs by RxNorm ingredient code, else by name in the text', () => {
    expect(drugOf({ ref: 'MedicationRequest/1', codes: ['32968'], text: '' }, CATALOGUE)?.name).toBe('clopidogrel');
    expect(drugOf({ ref: 'MedicationRequest/1', codes: ['309362'], text: 'Clopidogrel 75 MG Oral Tablet' }, CATALOGUE)?.name).toBe('clopidogrel');
    expect(drugOf({ ref: 'MedicationRequest/1', codes: ['197361'], text: 'amlodipine 5 MG Oral Tablet' }, CATALOGUE)).toBeUndefined();
  });
});

describe('CDS Hooks cards', () => {
  it('gives one card per CPIC population, strongest first, and a new alert of one population leaves the other', () => {
    const state = new PatientState();
    const profile = profileEvent('P1', 'CYP2C19', { diplotype: '*2/*2', phenotype: 'Poor Metabolizer' });
    state.applyProfile('P1', 'CYP2C19', profile, pos(1));
    const other = { ...alertEvent('P1', 'ACTIVE', { variant: 'other', profileIds: [profile.profileId] }), population: 'NVI', classification: 'Moderate' };
    const acs = alertEvent('P1', 'ACTIVE', { profileIds: [profile.profileId] });
    state.applyAlert(other, pos(2));
    state.applyAlert(acs, pos(3));
    const cards = cardsFor('P1', parsed(cdsRequest('order-sign', 'P1', [CLOPIDOGREL])).orders, state, CATALOGUE);
    expect(cards.map((c) => c.uuid)).toEqual([acs.alertId, other.alertId]);
    expect(cards.map((c) => c.indicator)).toEqual(['critical', 'warning']);
  });

  it('gives a critical card for a Strong CPIC recommendation, with summary, text, link and alternatives', () => {
    const state = new PatientState();
    const profile = profileEvent('P1', 'CYP2C19', { diplotype: '*2/*2', phenotype: 'Poor Metabolizer' });
    state.applyProfile('P1', 'CYP2C19', profile, pos(1));
    const alert = alertEvent('P1', 'ACTIVE', { profileIds: [profile.profileId] });
    state.applyAlert(alert, pos(2));
    const cards = cardsFor('P1', parsed(cdsRequest('order-sign', 'P1', [CLOPIDOGREL])).orders, state, CATALOGUE);
    expect(cards).toHaveLength(1);
    const [card] = cards;
    expect(card?.indicator).toBe('critical');
    expect(card?.uuid).toBe(alert.alertId);
    expect(card?.summary.length).toBeLessThanOrEqual(SUMMARY_MAX);
    expect(card?.summary).toMatch(/^CYP2C19 Poor Metabolizer: Avoid standard dose clopidogrel if possible \(CPIC Strong, ACS\/PCI\)$/);
    expect(card?.detail).toContain(alert.recommendation);
    expect(card?.detail).toContain('*2/*2');
    expect(card?.links?.[0]?.url).toBe(alert.guidelineUrl);
    expect(card?.selectionBehavior).toBe('at-most-one');
    expect(card?.suggestions?.map((s) => s.label)).toEqual(['Replace clopidogrel with prasugrel', 'Replace clopidogrel with ticagrelor']);
    expect(card?.suggestions?.[0]?.actions[0]).toEqual({ type: 'delete', description: 'Remove the clopidogrel draft order', resourceId: 'MedicationRequest/draft-1' });
  });

  it('gives no card when nothing is actionable, for an unknown patient, or for a withdrawn alert', () => {
    const state = new PatientState();
    state.applyProfile('P2', 'CYP2C19', profileEvent('P2', 'CYP2C19', { diplotype: '*1/*1', phenotype: 'Normal Metabolizer' }), pos(1));
    const orders = parsed(cdsRequest('order-sign', 'P2', [CLOPIDOGREL])).orders;
    expect(cardsFor('P2', orders, state, CATALOGUE)).toEqual([]);
    expect(cardsFor('nobody', orders, state, CATALOGUE)).toEqual([]);
    const active = alertEvent('P2');
    state.applyAlert(active, pos(2));
    expect(cardsFor('P2', orders, state, CATALOGUE)).toHaveLength(1);
    state.applyAlert(alertEvent('P2', 'WITHDRAWN', { supersedes: active.alertId }), pos(3));
    expect(cardsFor('P2', orders, state, CATALOGUE)).toEqual([]);
  });

  it('says plainly that a not-called gene is not determined instead of guessing', () => {
    const state = new PatientState();
    state.applyProfile('P3', 'CYP2C19', profileEvent('P3', 'CYP2C19', { diplotype: null, phenotype: null }), pos(1));
    const cards = cardsFor('P3', parsed(cdsRequest('order-sign', 'P3', [CLOPIDOGREL])).orders, state, CATALOGUE);
    expect(cards).toHaveLength(1);
    expect(cards[0]?.indicator).toBe('info');
    expect(cards[0]?.summary).toBe('CYP2C19 result not determined: no genotype-guided clopidogrel advice can be given');
    expect(cards[0]?.detail).toMatch(/not called — defining position chr10:94781859 not tested/);
    expect(cards[0]?.suggestions).toBeUndefined();
  });
});
