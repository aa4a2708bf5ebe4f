/**
 * A small VCF reader for the PGx caller (pure: the caller brings the lines). It keeps only records
 * at positions the knowledge base knows and stores each record's genotypes for all samples in typed
 * arrays, so thousands of samples cost a few bytes per sample and position.
 */
import { InvalidInputError } from '../../platform/errors.ts';
import type { KnowledgeBase } from './kb.ts';
import type { SiteGenotype } from './model.ts';

export interface VcfHeader {
  samples: string[];
  /** Assembly named in ##reference / ##contig lines, if any. */
  assembly: string | null;
}

export interface VcfSiteRecord {
  chrom: string;
  pos: number;
  ref: string;
  alts: string[];
  /** Per sample: first and second allele index, -1 = no call / absent. */
  a1: Int16Array;
  a2: Int16Array;
  /** Per sample: 1 = phased ("|"), 2 = haploid call. */
  flags: Uint8Array;
  /** Per sample phase set (PS), or null when the record has no PS field. */
  ps: Float64Array | null;
}

/** "chrom:pos" of every defining and extra position in the knowledge base. */
export function pgxPositionIndex(kb: KnowledgeBase): Set<string> {
  const keys = new Set<string>();
  for (const g of Object.values(kb.genes)) {
    for (const [pos] of g.positions) keys.add(`${g.chrom}:${pos}`);
    for (const [pos] of g.extraPositions) keys.add(`${g.chrom}:${pos}`);
  }
  return keys;
}

/** Reads meta lines and the #CHROM line (pass them in order); returns the header once complete. */
export function parseVcfHeader(lines: readonly string[]): VcfHeader {
  let assembly: string | null = null;
  for (const line of lines) {
    if (line.startsWith('##reference=') || line.startsWith('##contig=') || line.startsWith('##assembly=')) {
      const m = /(GRCh3[78]|hg19|hg38|b37)/i.exec(line);
      if (m?.[1] !== undefined && assembly === null) assembly = m[1];
    }
    if (line.startsWith('#CHROM')) {
      const cols = line.split('\t');
      if (cols.length < 8) throw new InvalidInputError(`VCF header: the #CHROM line has ${cols.length} columns, expected at least 8 — is the file tab-separated?`);
      return { samples: cols.slice(9), assembly };
    }
  }
  throw new InvalidInputError('VCF: no #CHROM header line before the first record');
}

const stripChr = (chrom: string): string => (chrom.startsWith('chr') || chrom.startsWith('CHR') ? chrom.slice(3) : chrom);

/**
 * Parses one data line if its position is in `wanted` ("chrom:pos", chrom without "chr"); returns
 * null otherwise, without splitting the sample columns. `lineNo` is for error messages.
 */
export function parseVcfRecord(line: string, nSamples: number, wanted: ReadonlySet<string>, lineNo = 0): VcfSiteRecord | null {
  const t1 = line.indexOf('\t');
  const t2 = t1 < 0 ? -1 : line.indexOf('\t', t1 + 1);
  if (t2 < 0) {
    if (line.trim() === '') return null;
    throw new InvalidInputError(`VCF line ${lineNo}: fewer than 8 tab-separated columns: ${line.slice(0, 80)}`);
  }
  const chrom = stripChr(line.slice(0, t1));
  const pos = Number(line.slice(t1 + 1, t2));
  if (!Number.isInteger(pos)) throw new InvalidInputError(`VCF line ${lineNo}: POS "${line.slice(t1 + 1, t2)}" is not an integer`);
  if (!wanted.has(`${chrom}:${pos}`)) return null;
  const cols = line.split('\t');
  if (cols.length < 8) throw new InvalidInputError(`VCF line ${lineNo}: ${cols.length} columns, expected at least 8`);
  if (nSamples > 0 && cols.length < 9 + nSamples) {
    throw new InvalidInputError(`VCF line ${lineNo}: ${cols.length - 9} sample columns, the header names ${nSamples}`);
  }
  const ref = cols[3] ?? '';
  const altField = cols[4] ?? '.';
  const alts = altField === '.' || altField === '' ? [] : altField.split(',');
  const format = (cols[8] ?? '').split(':');
  const gtAt = format.indexOf('GT');
  const psAt = format.indexOf('PS');
  const a1 = new Int16Array(nSamples).fill(-1);
  const a2 = new Int16Array(nSamples).fill(-1);
  const flags = new Uint8Array(nSamples);
  const ps = psAt >= 0 ? new Float64Array(nSamples).fill(Number.NaN) : null;
  if (gtAt < 0) return { chrom, pos, ref, alts, a1, a2, flags, ps };
  for (let s = 0; s < nSamples; s++) {
    const col = cols[9 + s] ?? '.';
    let gt: string;
    if (gtAt === 0 && psAt < 0) {
      const colon = col.indexOf(':');
      gt = colon < 0 ? col : col.slice(0, colon);
    } else {
      const fields = col.split(':');
      gt = fields[gtAt] ?? '.';
      if (ps !== null) {
        const v = Number(fields[psAt]);
        if (fields[psAt] !== undefined && fields[psAt] !== '.' && Number.isFinite(v)) ps[s] = v;
      }
    }
    readGt(gt, s, a1, a2, flags);
  }
  return { chrom, pos, ref, alts, a1, a2, flags, ps };
}

function readGt(gt: string, s: number, a1: Int16Array, a2: Int16Array, flags: Uint8Array): void {
  let sep = gt.indexOf('/');
  let phased = false;
  if (sep < 0) {
    sep = gt.indexOf('|');
    phased = sep >= 0;
  }
  if (sep < 0) {
    a1[s] = allele(gt);
    flags[s] = 2;
    return;
  }
  a1[s] = allele(gt.slice(0, sep));
  a2[s] = allele(gt.slice(sep + 1));
  if (phased) flags[s] = 1;
}

function allele(text: string): number {
  if (text === '0') return 0;
  if (text === '1') return 1;
  if (text === '.' || text === '') return -1;
  const n = Number(text);
  return Number.isInteger(n) && n >= 0 && n < 32768 ? n : -1;
}

/** Sample `s`'s genotype at a record, in the engine's SiteGenotype form. */
export function siteGenotype(record: VcfSiteRecord, s: number): SiteGenotype {
  const x = record.a1[s] ?? -1;
  const y = record.a2[s] ?? -1;
  const flag = record.flags[s] ?? 0;
  const ps = record.ps?.[s];
  return {
    chrom: record.chrom,
    pos: record.pos,
    ref: record.ref,
    alts: record.alts,
    gt: flag === 2 ? [x < 0 ? null : x] : [x < 0 ? null : x, y < 0 ? null : y],
    phased: flag === 1,
    phaseSet: ps === undefined || Number.isNaN(ps) ? null : ps,
  };
}
