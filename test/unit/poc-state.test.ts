import { describe, expect, it } from 'vitest';
import { alertEvent, profileEvent } from '../../bench/poc-events.ts';
import { PatientState } from '../../services/point-of-care/state.ts';

const pos = (offset: number, partition = 0) => ({ partition, offset: BigInt(offset), publishedAt: 1_000 });

describe('point-of-care state', () => {
  it('keeps the latest profile per gene, ignores replays of older events, and drops tombstoned genes', () => {
    const s = new PatientState();
    const pm = profileEvent('P', 'CYP2C19', { diplotype: '*2/*2', phenotype: 'Poor Metabolizer' });
    const im = profileEvent('P', 'CYP2C19', { diplotype: '*1/*2', phenotype: 'Intermediate Metabolizer' });
    s.applyProfile('P', 'CYP2C19', pm, pos(1), 1_010);
    s.applyProfile('P', 'CYP2C19', im, pos(2));
    s.applyProfile('P', 'CYP2C19', pm, pos(1)); // replay
    s.applyProfile('P', 'SLCO1B1', profileEvent('P', 'SLCO1B1', { diplotype: '*1/*5', phenotype: 'Decreased Function' }), pos(3));
    expect(s.profile('P').map((e) => [e.profile.gene, e.profile.phenotype])).toEqual([
      ['CYP2C19', 'Intermediate Metabolizer'],
      ['SLCO1B1', 'Decreased Function'],
    ]);
    s.applyProfile('P', 'SLCO1B1', null, pos(4));
    s.applyProfile('P', 'CYP2C19', null, pos(5));
    expect(s.profile('P')).toEqual([]);
    expect(s.knows('P')).toBe(false);
  });

  it('keeps the current alert per drug: superseded by a newer ACTIVE, closed by WITHDRAWN', () => {
    const s = new PatientState();
    const first = alertEvent('P');
    const second = alertEvent('P', 'ACTIVE', { supersedes: first.alertId, variant: 'v2' });
    s.applyAlert(first, pos(1));
    s.applyAlert(second, pos(2));
    expect(s.activeAlerts('P').map((a) => a.alert.alertId)).toEqual([second.alertId]);
    expect(s.stats().activeAlerts).toBe(1);
    s.applyAlert(alertEvent('P', 'WITHDRAWN', { supersedes: second.alertId }), pos(3));
    expect(s.activeAlerts('P')).toEqual([]);
    expect(s.stats()).toMatchObject({ activeAlerts: 0, patients: 1, eventsApplied: 3 });
  });

  it('counts dead letters per stage', () => {
    const s = new PatientState();
    s.countDeadLetter('views-sink');
    s.countDeadLetter('views-sink');
    s.countDeadLetter('webhooks');
    expect(s.stats().deadLetters).toEqual({ 'views-sink': 2, webhooks: 1 });
  });
});
