import { describe, expect, it } from 'vitest';
import { loadKnowledgeBase, pgxPositionIndex } from '../../domain/pgx/index.ts';
import type { PgxPatientState } from '../../platform/events.ts';
import { applyInput, definingPositions, emptyState, evaluate, type CoreContext, type Input } from '../../services/pgx-processor/core.ts';
import { diplotypeCalls, geneCalls, genotypes, outside } from '../support/pgx-events.ts';

const kb = loadKnowledgeBase();
const positions = pgxPositionIndex(kb);
const ctx: CoreContext = { kb, isDefining: (c, p) => positions.has(`${c}:${p}`), pipelineVersion: '0.1.0' };

/** Applies inputs one at a time, evaluating after each, as the processor does per batch. */
function run(inputs: Input[], start: PgxPatientState = emptyState('PT-1', kb.version)) {
  let state = start;
  const profiles = [];
  const alerts = [];
  for (const input of inputs) {
    state = applyInput(state, input, ctx);
    const e = evaluate(state, ctx, input.event.lineage.ingestedAt);
    state = e.state;
    profiles.push(...e.profiles);
    alerts.push(...e.alerts);
  }
  return { state, profiles, alerts };
}

const poorMetaboliser: Input = { kind: 'genotypes', event: genotypes('PT-1', diplotypeCalls('CYP2C19', '*2', '*2')) };

describe('pgx processor core', () => {
  it('calls CYP2C19 *2/*2 as a poor metaboliser and raises clopidogrel alerts', () => {
    const { profiles, alerts, state } = run([poorMetaboliser]);
    const cyp2c19 = profiles.find((p) => p.gene === 'CYP2C19');
    expect(cyp2c19).toMatchObject({ status: 'CALLED', source: 'CALLED', diplotypes: ['*2/*2'], phenotype: 'Poor Metabolizer' });
    expect(cyp2c19?.evidence).toEqual([poorMetaboliser.event.eventId]);
    const clopidogrel = alerts.filter((a) => a.drug === 'clopidogrel');
    expect(clopidogrel.length).toBeGreaterThan(0);
    for (const a of clopidogrel) {
      expect(a.status).toBe('ACTIVE');
      expect(a.phenotypes.CYP2C19).toBe('Poor Metabolizer');
      expect(a.guidelineUrl).toMatch(/^https:\/\//);
      expect(a.supersedesAlertId).toBeNull();
    }
    expect(state.sites).toHaveLength(kb.genes.CYP2C19?.positions.length ?? -1);
  });

  it('tells defining positions exactly as the VCF position index does', () => {
    const isDefining = definingPositions(kb);
    for (const key of positions) {
      const [chrom = '', pos = ''] = key.split(':');
      expect(isDefining(chrom, Number(pos)), key).toBe(true);
      expect(isDefining(chrom, Number(pos) + 1)).toBe(positions.has(`${chrom}:${Number(pos) + 1}`));
      expect(isDefining(`chr${chrom}`, Number(pos))).toBe(false);
    }
    expect(isDefining('2', 12345)).toBe(false);
  });

  it('keeps only PGx-defining positions in state', () => {
    const event = genotypes('PT-1', [...geneCalls('CYP2C19'), { ...geneCalls('CYP2C19')[0]!, chrom: '2', pos: 12345 }]);
    const { state } = run([{ kind: 'genotypes', event }]);
    expect(state.sites.some((s) => s.chrom === '2')).toBe(false);
  });

  it('is idempotent: the same event again changes nothing and emits nothing', () => {
    const first = run([poorMetaboliser]);
    const again = run([poorMetaboliser], first.state);
    expect(again.profiles).toEqual([]);
    expect(again.alerts).toEqual([]);
    expect(again.state).toEqual(first.state);
  });

  it('does not use GRCh37 genotypes, and says so', () => {
    const event = genotypes('PT-1', diplotypeCalls('CYP2C19', '*2', '*2'), { assembly: 'GRCh37' });
    const { state, profiles } = run([{ kind: 'genotypes', event }]);
    expect(state.sites).toEqual([]);
    expect(profiles).toEqual([]);
    expect(state.warnings[0]).toMatch(/GRCh37, not GRCh38: not used/);
  });

  it('takes outside calls for genes it does not call', () => {
    const { profiles } = run([{ kind: 'outside', event: outside('PT-1', 'CYP2D6', '*4/*4', 'Poor Metabolizer') }]);
    expect(profiles).toHaveLength(1);
    expect(profiles[0]).toMatchObject({ gene: 'CYP2D6', source: 'OUTSIDE', status: 'CALLED', diplotypes: ['*4/*4'], phenotype: 'Poor Metabolizer' });
  });

  it('flags a conflict between our call and an outside result, withdraws the alert, and re-opens it with a new id after retraction', () => {
    const base = run([poorMetaboliser]);
    const active = base.alerts.filter((a) => a.drug === 'clopidogrel');
    const disagreeing = outside('PT-1', 'CYP2C19', '*1/*1', 'Normal Metabolizer');
    const conflict = run([{ kind: 'outside', event: disagreeing }], base.state);
    const profile = conflict.profiles.find((p) => p.gene === 'CYP2C19');
    expect(profile?.status).toBe('CONFLICT');
    expect(profile?.phenotype).toBeNull();
    expect(profile?.warnings.join(' ')).toMatch(/called Poor Metabolizer .* but outside result says Normal Metabolizer/);
    const withdrawn = conflict.alerts.filter((a) => a.drug === 'clopidogrel');
    expect(withdrawn.map((a) => a.status)).toEqual(active.map(() => 'WITHDRAWN'));
    expect(withdrawn.map((a) => a.supersedesAlertId).sort()).toEqual(active.map((a) => a.alertId).sort());

    const retraction = outside('PT-1', 'CYP2C19', '*1/*1', 'Normal Metabolizer', { status: 'RETRACTED', supersedes: disagreeing.eventId });
    const back = run([{ kind: 'outside', event: retraction }], conflict.state);
    expect(back.profiles.find((p) => p.gene === 'CYP2C19')).toMatchObject({ status: 'CALLED', phenotype: 'Poor Metabolizer' });
    const reopened = back.alerts.filter((a) => a.drug === 'clopidogrel');
    expect(reopened.every((a) => a.status === 'ACTIVE')).toBe(true);
    expect(reopened.map((a) => a.supersedesAlertId).sort()).toEqual(withdrawn.map((a) => a.alertId).sort());
    for (const a of reopened) expect(active.map((x) => x.alertId)).not.toContain(a.alertId);

    // A late redelivery of the retracted result cannot revive it.
    const late = run([{ kind: 'outside', event: disagreeing }], back.state);
    expect(late.profiles).toEqual([]);
    expect(late.alerts).toEqual([]);
  });

  it('supersedes an outside result by its amendment', () => {
    const first = outside('PT-1', 'CYP2D6', '*1/*4', 'Intermediate Metabolizer');
    const amended = outside('PT-1', 'CYP2D6', '*4/*4', 'Poor Metabolizer', { status: 'AMENDED', supersedes: first.eventId, source: 'report/PT-1/CYP2D6-amended' });
    const { state, profiles } = run([{ kind: 'outside', event: first }, { kind: 'outside', event: amended }]);
    expect(state.outsideCalls.map((c) => c.diplotype)).toEqual(['*4/*4']);
    expect(profiles.at(-1)).toMatchObject({ gene: 'CYP2D6', diplotypes: ['*4/*4'], phenotype: 'Poor Metabolizer' });
  });

  it('removes a profile whose only result was retracted', () => {
    const call = outside('PT-1', 'HLA-B', '*57:01 positive', null);
    const retract = outside('PT-1', 'HLA-B', '*57:01 positive', null, { status: 'RETRACTED', supersedes: call.eventId });
    let state = emptyState('PT-1', kb.version);
    state = evaluate(applyInput(state, { kind: 'outside', event: call }, ctx), ctx, 1).state;
    const e = evaluate(applyInput(state, { kind: 'outside', event: retract }, ctx), ctx, 2);
    expect(e.removedProfiles).toEqual(['HLA-B']);
  });

  it('re-analyses for a new knowledge-base version and emits only what changed', () => {
    const { state } = run([poorMetaboliser]);
    const upgraded: CoreContext = { ...ctx, kb: { ...kb, version: `${kb.version}+next` } };
    const e = evaluate(state, upgraded, state.updatedAt);
    // Every profile and alert carries the KB version, so all are re-emitted once, and then never again.
    expect(e.profiles.length).toBeGreaterThan(0);
    expect(e.profiles.every((p) => p.kbVersion === `${kb.version}+next`)).toBe(true);
    const again = evaluate(e.state, upgraded, state.updatedAt);
    expect(again.profiles).toEqual([]);
    expect(again.alerts).toEqual([]);
  });
});
