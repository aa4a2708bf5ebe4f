import { describe, expect, it } from 'vitest';
import { loadKnowledgeBase, pgxPositionIndex } from '../../domain/pgx/index.ts';
import { TOPICS } from '../../platform/catalogue.ts';
import { valueType } from '../../platform/conform.ts';
import type { PgxPatientState } from '../../platform/events.ts';
import { applyInput, emptyState, evaluate, type CoreContext } from '../../services/pgx-processor/core.ts';
import { PatientStates } from '../../services/pgx-processor/states.ts';
import { diplotypeCalls, genotypes, outside } from '../support/pgx-events.ts';

const kb = loadKnowledgeBase();
const positions = pgxPositionIndex(kb);
const ctx: CoreContext = { kb, isDefining: (c, p) => positions.has(`${c}:${p}`), pipelineVersion: '0.1.0' };
const type = valueType(TOPICS.patientState);

/** The Confluent wire format as the serde writes it (schema id 7 here; no registry needed). */
function encode(state: PgxPatientState): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(7, 1);
  return Buffer.concat([header, type.toBuffer(state)]);
}
const decode = async (bytes: Buffer): Promise<PgxPatientState> => type.fromBuffer(bytes.subarray(5)) as PgxPatientState;

/** A state with every part filled: sites, sources, outside calls, profiles and alerts (maps). */
function richState(patientId: string): PgxPatientState {
  let state = applyInput(emptyState(patientId, kb.version), { kind: 'genotypes', event: genotypes(patientId, diplotypeCalls('CYP2C19', '*2', '*3')) }, ctx);
  state = applyInput(state, { kind: 'outside', event: outside(patientId, 'CYP2D6', '*4/*4', 'Poor Metabolizer') }, ctx);
  return evaluate(state, ctx, 1).state;
}

describe('pgx processor states kept as bytes', () => {
  it('decodes a restored state to what was encoded, and encoding it again gives the same bytes', async () => {
    const state = richState('PT-1');
    expect(Object.keys(state.alerts).length).toBeGreaterThan(1);
    const states = new PatientStates(decode);
    states.restore('PT-1', encode(state));
    const back = await states.latest('PT-1');
    expect(back).toEqual(state);
    // An unchanged state is told by its bytes, so the round trip must be byte-exact (map order too).
    expect(encode(back!).equals(states.latestBytes('PT-1')!)).toBe(true);
  });

  it('copies restored values: a view into a larger buffer is not kept', () => {
    const bytes = encode(richState('PT-1'));
    const response = Buffer.concat([Buffer.alloc(100), bytes, Buffer.alloc(100)]);
    const view = response.subarray(100, 100 + bytes.length);
    const states = new PatientStates(decode);
    states.restore('PT-1', view);
    const kept = states.latestBytes('PT-1')!;
    expect(kept.equals(bytes)).toBe(true);
    expect(kept.buffer).not.toBe(response.buffer);
    response.fill(0);
    expect(kept.equals(bytes)).toBe(true);
  });

  it('keeps each committed state in memory of its own, not in a slab shared with short-lived buffers', () => {
    const states = new PatientStates(decode);
    const pooled = Buffer.from(encode(richState('PT-1'))); // small: carved from Node's shared 8 KB pool
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.length);
    states.commit('PT-1', pooled);
    states.restore('PT-2', Buffer.from(pooled));
    for (const id of ['PT-1', 'PT-2']) {
      const kept = states.latestBytes(id)!;
      expect(kept.equals(pooled)).toBe(true);
      expect(kept.buffer.byteLength).toBe(kept.length);
    }
  });

  it('removes a patient on a tombstone and knows nothing of a patient never seen', async () => {
    const states = new PatientStates(decode);
    states.restore('PT-1', encode(richState('PT-1')));
    states.restore('PT-1', null);
    expect(states.size).toBe(0);
    expect(await states.latest('PT-1')).toBeUndefined();
    expect(states.latestBytes('PT-2')).toBeUndefined();
  });

  it('serves a staged state (transaction in flight) before the committed one, without decoding', async () => {
    const committed = richState('PT-1');
    const staged = { ...committed, warnings: ['newer'] };
    let decoded = 0;
    const states = new PatientStates(async (bytes) => {
      decoded++;
      return decode(bytes);
    });
    states.restore('PT-1', encode(committed));
    states.stage('PT-1', { state: staged, bytes: encode(staged) });
    expect(await states.latest('PT-1')).toBe(staged);
    expect(decoded).toBe(0);
    expect(states.latestBytes('PT-1')!.equals(encode(staged))).toBe(true);
    expect(states.size).toBe(1);

    states.commit('PT-1', encode(staged));
    expect(await states.latest('PT-1')).toEqual(staged);
    expect(decoded).toBe(1);
    expect([...states.committedValues()].map(([k]) => k)).toEqual(['PT-1']);
  });
});
