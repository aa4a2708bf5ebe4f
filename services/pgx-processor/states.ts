/**
 * The PGx processor's per-patient state in memory. A committed state is kept as its encoded
 * changelog value (~1 KB for a gene panel, where the object graph takes ~9 KB of heap that the
 * garbage collector keeps scanning and copying) and decoded only when the patient is touched. States
 * of the transaction in flight are held as objects too, since the next batch may need them at once.
 */
import type { PgxPatientState } from '../../platform/events.ts';

/** A state as an object and as the changelog value it was encoded to. */
export interface HeldState {
  state: PgxPatientState;
  bytes: Buffer;
}

export class PatientStates {
  private readonly committed = new Map<string, Buffer>();
  private readonly pending = new Map<string, HeldState>();

  constructor(private readonly decode: (bytes: Buffer) => Promise<PgxPatientState>) {}

  /** Committed patients. */
  get size(): number {
    return this.committed.size;
  }

  /**
   * A changelog record read at start-up (null: tombstone). Copied: the value is usually a view
   * into a whole fetch response, which keeping it would keep alive.
   */
  restore(patientId: string, value: Buffer | null): void {
    if (value === null) this.committed.delete(patientId);
    else this.committed.set(patientId, own(value));
  }

  /** The committed states' values (to look into without decoding them all). */
  committedValues(): IterableIterator<[string, Buffer]> {
    return this.committed.entries();
  }

  /** The latest state, in flight or committed; undefined for a patient never seen. */
  async latest(patientId: string): Promise<PgxPatientState | undefined> {
    const held = this.pending.get(patientId);
    if (held !== undefined) return held.state;
    const bytes = this.committed.get(patientId);
    return bytes === undefined ? undefined : this.decode(bytes);
  }

  /** The latest state's encoded value, to tell an unchanged state by its bytes. */
  latestBytes(patientId: string): Buffer | undefined {
    return this.pending.get(patientId)?.bytes ?? this.committed.get(patientId);
  }

  /** A state whose transaction has been sent but not yet committed. */
  stage(patientId: string, held: HeldState): void {
    this.pending.set(patientId, held);
  }

  /** A state whose transaction has committed. */
  commit(patientId: string, bytes: Buffer): void {
    this.committed.set(patientId, own(bytes));
    this.pending.delete(patientId);
  }
}

/**
 * A copy in memory of its own. Small Buffers are carved out of shared 8 KB slabs, and a slab stays
 * allocated while any Buffer in it lives: a state kept from a slab shared with the batch's encoded
 * profiles and alerts (sent, then dropped) kept ~3x its size. 120,000 states of ~1.1 KB: 397 MB of
 * buffers pooled, 135 MB copied.
 */
function own(bytes: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(bytes.length);
  bytes.copy(copy);
  return copy;
}
