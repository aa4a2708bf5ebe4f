/**
 * Hand-rolled Avro binary encoding of GenotypeCallSet, for the hot path: the site part of a call
 * (chrom, pos, ref, alts / quality, filters, variantId, gene, recordRef) is encoded once per VCF
 * record and copied into every call of every sample that carries it; only GT/phase/PS/DP/GQ are
 * encoded per call. The bytes are exactly what avsc writes for the committed schema: unit tests
 * compare both on many calls, and every run checks one event against avsc before publishing.
 */
import type { Assembly, Lineage, SourceKind } from '../../platform/events.ts';

/** Avro long/int: zigzag varint. Exact for every safe integer. */
export function writeLong(buf: Buffer, pos: number, n: number): number {
  // Small enough for 32-bit zigzag: the hot path, kept short so that it is inlined.
  if (n >= -0x40000000 && n < 0x40000000) {
    let z = (n << 1) ^ (n >> 31);
    while (z > 0x7f) {
      buf[pos++] = (z & 0x7f) | 0x80;
      z >>>= 7;
    }
    buf[pos++] = z;
    return pos;
  }
  return writeWideLong(buf, pos, n);
}

function writeWideLong(buf: Buffer, pos: number, n: number): number {
  if (n >= 2 ** 52 || n <= -(2 ** 52)) {
    // Zigzag of such values exceeds 2^53: exact only with BigInt (never on the hot path).
    let big = n >= 0 ? BigInt(n) * 2n : -BigInt(n) * 2n - 1n;
    while (big >= 0x80n) {
      buf[pos++] = Number(big & 0x7fn) | 0x80;
      big >>= 7n;
    }
    buf[pos++] = Number(big);
    return pos;
  }
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  while (z >= 0x80) {
    buf[pos++] = (z % 0x80) | 0x80;
    z = Math.floor(z / 0x80);
  }
  buf[pos++] = z;
  return pos;
}

/** Upper bound of the bytes writeLong uses. */
export const MAX_LONG_BYTES = 10;

export function writeString(buf: Buffer, pos: number, s: string): number {
  const length = Buffer.byteLength(s);
  pos = writeLong(buf, pos, length);
  buf.write(s, pos, length, 'utf8');
  return pos + length;
}

export function stringBytes(s: string): number {
  const length = Buffer.byteLength(s);
  return length + MAX_LONG_BYTES;
}

/** A small growable writer for the per-record and per-file parts (not the per-call hot path). */
export class Bytes {
  buf = Buffer.allocUnsafe(256);
  pos = 0;
  /** Makes room for n more bytes at pos (callers may then write into buf directly). */
  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  long(n: number): this {
    this.room(MAX_LONG_BYTES);
    this.pos = writeLong(this.buf, this.pos, n);
    return this;
  }
  string(s: string): this {
    this.room(stringBytes(s));
    this.pos = writeString(this.buf, this.pos, s);
    return this;
  }
  nullableString(s: string | null): this {
    return s === null ? this.long(0) : this.long(1).string(s);
  }
  double(d: number): this {
    this.room(8);
    this.buf.writeDoubleLE(d, this.pos);
    this.pos += 8;
    return this;
  }
  stringArray(items: readonly string[]): this {
    if (items.length > 0) {
      this.long(items.length);
      for (const s of items) this.string(s);
    }
    return this.long(0);
  }
  /** An Avro string from bytes already known to be its UTF-8 encoding (e.g. validated ASCII). */
  rawString(src: Buffer, start: number, end: number): this {
    this.room(end - start + MAX_LONG_BYTES);
    this.pos = writeLong(this.buf, this.pos, end - start);
    return this.copy(src, start, end);
  }
  /** Appends bytes already encoded. */
  raw(src: Buffer): this {
    this.room(src.length);
    return this.copy(src, 0, src.length);
  }
  /** src[start, end), without making a view of it (one per record adds up). */
  rawRange(src: Buffer, start: number, end: number): this {
    this.room(end - start);
    return this.copy(src, start, end);
  }
  /** The decimal digits of a non-negative integer, as an Avro string. */
  decimal(n: number): this {
    if (n < 0 || !Number.isSafeInteger(n)) return this.string(String(n));
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    this.room(digits + 1);
    this.pos = writeLong(this.buf, this.pos, digits);
    for (let i = this.pos + digits - 1, x = n; i >= this.pos; i--, x = Math.floor(x / 10)) this.buf[i] = 48 + (x % 10);
    this.pos += digits;
    return this;
  }
  private copy(src: Buffer, start: number, end: number): this {
    // Site fields are a few bytes: a loop beats Buffer#copy's call overhead there.
    if (end - start > 64) src.copy(this.buf, this.pos, start, end);
    else for (let i = start, o = this.pos; i < end; i++, o++) this.buf[o] = src[i] as number;
    this.pos += end - start;
    return this;
  }
  /** Starts over, keeping the memory (for a writer reused per record). */
  reset(): this {
    this.pos = 0;
    return this;
  }
  /** A copy of what was written. */
  take(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

export const SOURCE_KINDS: readonly SourceKind[] = ['VCF', 'FHIR', 'LAB_REPORT', 'OTHER'];
export const ASSEMBLIES: readonly Assembly[] = ['GRCh37', 'GRCh38', 'UNKNOWN'];

/** The lineage record, the same for every event of a file. */
export function lineageBytes(l: Lineage): Buffer {
  return new Bytes()
    .string(l.sourceId)
    .string(l.sourceSha256)
    .nullableString(l.lab)
    .long(l.ingestedAt)
    .string(l.connector)
    .string(l.pipelineVersion)
    .take();
}

/** A BlockSample record: column, patientId, sampleId. */
export function blockSampleBytes(column: number, patientId: string, sampleId: string): Buffer {
  return new Bytes().long(column).string(patientId).string(sampleId).take();
}

/** patientId, sampleId, sourceKind, assembly: the part of an event after its id, per sample. */
export function sampleHead(patientId: string, sampleId: string, sourceKind: SourceKind, assembly: Assembly): Buffer {
  return new Bytes().string(patientId).string(sampleId).long(SOURCE_KINDS.indexOf(sourceKind)).long(ASSEMBLIES.indexOf(assembly)).take();
}
