/**
 * The PGx defining positions (domain/pgx/data/positions.json, GRCh38): where the connector keeps
 * hom-ref and no-call genotypes so that the PGx caller can tell "reference" from "not tested".
 */
import { readFileSync } from 'node:fs';
import { fromRoot } from '../../platform/paths.ts';

export interface PgxPosition {
  /** Canonical chromosome (1-22, X, Y, MT). */
  chrom: string;
  /** 1-based GRCh38 position. */
  pos: number;
  ref: string;
  alts: string[];
  rsid: string | null;
  gene: string | null;
  /** Reported by the caller but not part of an allele definition. */
  positionOfInterestOnly: boolean;
}

export interface PgxPositionsFile {
  source: string;
  release: string;
  dataVersion: string;
  license: string;
  assembly: 'GRCh38';
  count: number;
  positions: PgxPosition[];
}

/** Lookup by chromosome and position; positions per chromosome are also kept sorted for range queries. */
export class PgxPositionIndex {
  private readonly byChrom = new Map<string, Map<number, PgxPosition>>();
  private readonly sorted = new Map<string, number[]>();
  private readonly sorted32 = new Map<string, Int32Array>();

  constructor(readonly file: PgxPositionsFile) {
    for (const p of file.positions) {
      let m = this.byChrom.get(p.chrom);
      if (m === undefined) this.byChrom.set(p.chrom, (m = new Map<number, PgxPosition>()));
      m.set(p.pos, p);
    }
    for (const [chrom, m] of this.byChrom) this.sorted.set(chrom, [...m.keys()].sort((a, b) => a - b));
  }

  get size(): number {
    return this.file.positions.length;
  }

  /** The positions of one chromosome (undefined when it has none), for a fast per-record lookup. */
  chrom(chrom: string): Map<number, PgxPosition> | undefined {
    return this.byChrom.get(chrom);
  }

  /** The positions of a chromosome that a 32-bit integer holds, ascending (the scanner's fast path searches them). */
  sortedPositions(chrom: string): Int32Array {
    let list = this.sorted32.get(chrom);
    if (list === undefined) {
      list = Int32Array.from((this.sorted.get(chrom) ?? []).filter((p) => p <= 0x7fffffff));
      this.sorted32.set(chrom, list);
    }
    return list;
  }

  /** Positions in [from, to] on a chromosome, ascending. */
  within(chrom: string, from: number, to: number): PgxPosition[] {
    const list = this.sorted.get(chrom);
    const m = this.byChrom.get(chrom);
    if (list === undefined || m === undefined) return [];
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((list[mid] ?? 0) < from) lo = mid + 1;
      else hi = mid;
    }
    const out: PgxPosition[] = [];
    for (let i = lo; i < list.length && (list[i] ?? Infinity) <= to; i++) out.push(m.get(list[i] ?? 0) as PgxPosition);
    return out;
  }
}

let cached: PgxPositionIndex | undefined;

/** The committed positions, read once per process. */
export function pgxPositions(): PgxPositionIndex {
  cached ??= new PgxPositionIndex(
    JSON.parse(readFileSync(fromRoot('domain', 'pgx', 'data', 'positions.json'), 'utf8')) as PgxPositionsFile,
  );
  return cached;
}
