/**
 * The memory of the scanner's WebAssembly fast path (assembly/scan.ts) and the calls into it. Pure:
 * no I/O. VcfParser keeps one per file and hands it the lines it may take (see VcfParser.fastScan).
 *
 * Layout: the state block (32-bit fields, indices as in assembly/scan.ts), the per-sample regions
 * (mapped flags, used marks, the record's calls), the contig's PGx positions, the current CHROM,
 * FORMAT and FILTER, the sites written by one scan, then the chunk of the file being scanned.
 */
import { SCAN_WASM } from './scan-wasm.ts';

declare global {
  // The part of the WebAssembly JavaScript API used here (lib.dom.d.ts declares it; this project's lib has no DOM).
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace WebAssembly {
    class Module {
      constructor(bytes: Uint8Array);
    }
    class Instance {
      constructor(module: Module, imports: object);
      readonly exports: Record<string, unknown>;
    }
    class Memory {
      readonly buffer: ArrayBuffer;
      grow(pages: number): number;
    }
  }
}

const STATE = 1024;
const enum F {
  LINE = 0,
  BLOCK_LINES = 1,
  BLOCK_LINES_LIMIT = 2,
  CALL_ROOM = 3,
  SITE_ROOM = 4,
  SITES = 5,
  NON_REF = 6,
  UNMAPPED = 7,
  SAMPLES = 8,
  CHROM_AT = 9,
  CHROM_LEN = 10,
  FORMAT_AT = 11,
  FORMAT_LEN = 12,
  DP_INDEX = 13,
  FILTER_AT = 14,
  FILTER_LEN = 15,
  FILTER_ENC_AT = 16,
  FILTER_ENC_LEN = 17,
  PGX_AT = 18,
  PGX_COUNT = 19,
  MAPPED_AT = 20,
  USED_AT = 21,
  NEW_USED_AT = 22,
  NEW_USED = 23,
  OUT_AT = 24,
  OUT_LEN = 25,
  OUT_CAP = 26,
  CALLS_AT = 27,
  RECORD_COLS_AT = 28,
  GEN = 29,
  GQ_INDEX = 30,
  PS_INDEX = 31,
}

/** Room for CHROM, FORMAT and FILTER (and its encoding) together; longer ones leave records to record(). */
const TEXT_ROOM = 16 * 1024;
/** Sites one scan may write: a block holds ~512 KB of them (BLOCK_BYTES); a longer record is left to record(). */
const OUT_CAP = 1024 * 1024 + 64 * 1024;
const PAGE = 65536;

let compiled: WebAssembly.Module | undefined;

/** What one scan took: lines and their counts, and the sites it wrote (valid until the next scan). */
export interface ScanResult {
  /** Where the scan stopped (an index into the chunk). */
  stop: number;
  lines: number;
  blockLines: number;
  sites: number;
  calls: number;
  unmapped: number;
  /** The encoded sites (a view of the module's memory). */
  siteBytes: Buffer;
  /** Sample columns with calls in this scan, each once. */
  newlyUsed: Int32Array;
}

export class WasmScan {
  private readonly memory: WebAssembly.Memory;
  private readonly scanFn: (p: number, end: number) => number;
  private i32!: Int32Array<ArrayBuffer>;
  private u8!: Buffer<ArrayBuffer>;
  private readonly textAt: number;
  private readonly pgxAt: number;
  private readonly outAt: number;
  private readonly inputAt: number;
  private inputRoom = 0;
  private chunk: Buffer | undefined;
  private chrom: Buffer | undefined;
  private format: Buffer | undefined;
  private filter: Buffer | undefined;
  private pgx: Int32Array | undefined;
  private gen = 0;

  /** samples: the file's sample columns; mapped: per column, whether it has a patient; maxPgx: at least the PGx positions of any one contig. */
  constructor(samples: number, mapped: readonly boolean[], maxPgx: number) {
    compiled ??= new WebAssembly.Module(Buffer.from(SCAN_WASM, 'base64'));
    const instance = new WebAssembly.Instance(compiled, {});
    this.memory = instance.exports.memory as WebAssembly.Memory;
    this.scanFn = instance.exports.scan as (p: number, end: number) => number;
    const align = (n: number): number => Math.ceil(n / 8) * 8;
    let at = STATE + 256;
    const mappedAt = at;
    at = align(at + samples);
    const usedAt = at;
    at = align(at + 4 * samples);
    const newUsedAt = at;
    at = align(at + 4 * samples);
    const callsAt = at;
    at = align(at + 40 * samples + 64);
    const colsAt = at;
    at = align(at + 4 * samples);
    this.pgxAt = at;
    at = align(at + 4 * maxPgx);
    this.textAt = at;
    at = align(at + TEXT_ROOM);
    this.outAt = at;
    at = align(at + OUT_CAP);
    this.inputAt = at;
    this.grow(at);
    const set = (k: F, v: number): void => void (this.i32[STATE / 4 + k] = v);
    set(F.SAMPLES, samples);
    set(F.MAPPED_AT, mappedAt);
    set(F.USED_AT, usedAt);
    set(F.NEW_USED_AT, newUsedAt);
    set(F.CALLS_AT, callsAt);
    set(F.RECORD_COLS_AT, colsAt);
    set(F.OUT_AT, this.outAt);
    set(F.OUT_CAP, OUT_CAP);
    set(F.PGX_AT, this.pgxAt);
    for (let col = 0; col < samples; col++) this.u8[mappedAt + col] = mapped[col] === true ? 1 : 0;
  }

  private grow(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / PAGE));
    this.i32 = new Int32Array(this.memory.buffer);
    this.u8 = Buffer.from(this.memory.buffer);
  }

  /**
   * Sets what records must match: the current CHROM, FORMAT (and where DP, GQ and PS are in it, -1
   * where absent), FILTER (raw and encoded) and the contig's PGx positions (sorted). false when they
   * do not fit.
   */
  setContext(chrom: Buffer, format: { raw: Buffer; dp: number; gq: number; ps: number }, filter: Buffer, filterEncoded: Buffer, pgx: Int32Array): boolean {
    if (chrom === this.chrom && format.raw === this.format && filter === this.filter && pgx === this.pgx) return true;
    if (chrom.length + format.raw.length + filter.length + filterEncoded.length > TEXT_ROOM) return false;
    const i32 = this.i32;
    let at = this.textAt;
    const put = (b: Buffer, ptr: F, len: F): void => {
      this.u8.set(b, at);
      i32[STATE / 4 + ptr] = at;
      i32[STATE / 4 + len] = b.length;
      at += b.length;
    };
    put(chrom, F.CHROM_AT, F.CHROM_LEN);
    put(format.raw, F.FORMAT_AT, F.FORMAT_LEN);
    put(filter, F.FILTER_AT, F.FILTER_LEN);
    put(filterEncoded, F.FILTER_ENC_AT, F.FILTER_ENC_LEN);
    i32[STATE / 4 + F.DP_INDEX] = format.dp;
    i32[STATE / 4 + F.GQ_INDEX] = format.gq;
    i32[STATE / 4 + F.PS_INDEX] = format.ps;
    i32.set(pgx, this.pgxAt / 4);
    i32[STATE / 4 + F.PGX_COUNT] = pgx.length;
    this.chrom = chrom;
    this.format = format.raw;
    this.filter = filter;
    this.pgx = pgx;
    return true;
  }

  /**
   * Scans chunk from p: lines numbered from line + 1, the block at blockLines of blockLinesLimit lines
   * with room for callRoom more calls and siteRoom more site bytes.
   */
  scan(chunk: Buffer, p: number, line: number, blockLines: number, blockLinesLimit: number, callRoom: number, siteRoom: number): ScanResult {
    if (chunk !== this.chunk) {
      if (chunk.length > this.inputRoom) {
        this.grow(this.inputAt + chunk.length);
        this.inputRoom = this.memory.buffer.byteLength - this.inputAt;
      }
      this.u8.set(chunk, this.inputAt);
      this.chunk = chunk;
    }
    const s = this.i32;
    const k = STATE / 4;
    s[k + F.LINE] = line;
    s[k + F.BLOCK_LINES] = blockLines;
    s[k + F.BLOCK_LINES_LIMIT] = blockLinesLimit;
    s[k + F.CALL_ROOM] = callRoom;
    s[k + F.SITE_ROOM] = siteRoom;
    s[k + F.SITES] = 0;
    s[k + F.NON_REF] = 0;
    s[k + F.UNMAPPED] = 0;
    s[k + F.NEW_USED] = 0;
    s[k + F.OUT_LEN] = 0;
    s[k + F.GEN] = this.gen = (this.gen + 1) | 0 || 1;
    const stop = (this.scanFn(this.inputAt + p, this.inputAt + chunk.length) >>> 0) - this.inputAt; // an address: unsigned
    const newUsedAt = (s[k + F.NEW_USED_AT] as number) / 4;
    return {
      stop,
      lines: (s[k + F.LINE] as number) - line,
      blockLines: s[k + F.BLOCK_LINES] as number,
      sites: s[k + F.SITES] as number,
      calls: s[k + F.NON_REF] as number,
      unmapped: s[k + F.UNMAPPED] as number,
      siteBytes: this.u8.subarray(this.outAt, this.outAt + (s[k + F.OUT_LEN] as number)),
      newlyUsed: s.subarray(newUsedAt, newUsedAt + (s[k + F.NEW_USED] as number)),
    };
  }

  /** The chunk handed to the last scan is no longer needed (it is copied again if it comes back). */
  forgetChunk(): void {
    this.chunk = undefined;
  }
}
