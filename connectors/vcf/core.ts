/**
 * Pure core of the VCF connector: bytes of a VCF in, Avro-encoded events and rejected records out.
 * No I/O here; the runner reads, publishes and dead-letters.
 *
 * - The header is read with @gmod/vcf (header.ts). Records are scanned at the byte level in byte
 *   loops (no per-field strings), GT is decoded in place, and a hom-ref genotype costs a few byte
 *   comparisons. A kept call is Avro-encoded as it is found.
 * - Published: every call carrying an ALT allele, and every call (hom-ref and no-call too) at a PGx
 *   defining position, so the PGx caller can tell "reference" from "not tested".
 * - Two kinds of events, each call in exactly one of them. A block is a run of at most BLOCK_LINES
 *   consecutive records of one chromosome (fewer when it reaches BLOCK_CALLS calls or its variant
 *   block BLOCK_BYTES bytes).
 *   - Calls at PGx positions: one GenotypeCallSet per sample and block, keyed by patient (what the
 *     PGx processor reads). The site part of a call (chrom, pos, ref, alts, quality, filters, id,
 *     recordRef) is encoded once per record and copied into each call of the sample's stream.
 *     Event id = hash of file sha256, sample column and the block's first line.
 *   - All other (non-reference) calls: one VariantBlock per block, every site stated once with the
 *     calls of all its samples. A multi-sample VCF repeats each site for ~25 % of its samples; as
 *     per-sample events that was ~40 of the ~57 bytes of a call, and 3/4 of the bytes on the wire.
 *     Event id = hash of file sha256 and the block's first line.
 *   The same file always gives the same ids.
 * - A record that cannot be represented losslessly is rejected with its line number and the reason;
 *   the rest of the file goes on. Records on contigs outside 1-22/X/Y/MT are skipped and counted.
 */
import { createHash } from 'node:crypto';
import { InvalidInputError } from '../../platform/errors.ts';
import type { Assembly } from '../../platform/events.ts';
import { ASSEMBLIES, Bytes, MAX_LONG_BYTES, blockSampleBytes, lineageBytes, sampleHead, writeLong, writeString } from './avro.ts';
import { normaliseChrom } from './harmonise.ts';
import { checkSignature, parseHeader, type VcfHeader } from './header.ts';
import type { PgxPosition, PgxPositionIndex } from './pgx-positions.ts';
import { resolveSamples, type ResolvedSamples, type SampleMapping } from './samples.ts';
import { WasmScan } from './wasm-scan.ts';

export const CONNECTOR = 'vcf';
/** Block limits: part of the event-id scheme (changing them changes the ids of a re-sent file). */
export const BLOCK_LINES = 4096;
export const BLOCK_CALLS = 1_000_000;
/** A variant block stays well below the broker's 1 MB message limit. */
export const BLOCK_BYTES = 512 * 1024;
/** A longer line is refused as not a VCF line (memory stays bounded). */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;
/** Larger chunks are scanned in pieces of this size (readers hand over ~1 MB). */
const MAX_PUSH_BYTES = 256 * 1024 * 1024;

export interface FileFacts {
  /** '' when not known yet: then events wait for resolveSha256. */
  sha256: string;
  sourceId: string;
  lab: string | null;
  ingestedAt: number;
  pipelineVersion: string;
}

export interface EncodedEvent {
  /** 'calls': a GenotypeCallSet (genotype-calls topic); 'block': a VariantBlock (variant-blocks topic). */
  kind: 'calls' | 'block';
  /** Kafka key: the patient id (calls) or the event id (block). */
  key: string;
  eventId: string;
  /** Avro body, after the wire header when one was given. */
  value: Buffer;
  calls: number;
}

export interface RejectedRecord {
  line: number;
  error: InvalidInputError;
  /** The offending line (at most 1 MB of it). */
  bytes: Buffer;
}

export interface VcfStats {
  lines: number;
  records: number;
  /** Calls published (in events). */
  calls: number;
  /** Non-reference calls among them (ALT allele present). */
  nonRefCalls: number;
  events: number;
  /** Of the events, how many are variant blocks (the rest are per-patient GenotypeCallSets). */
  blockEvents: number;
  rejected: number;
  /** Records skipped because their contig is not 1-22/X/Y/MT, by contig name. */
  skippedContigs: Map<string, number>;
  /** Records whose FORMAT has no GT (nothing to publish). */
  recordsWithoutGenotypes: number;
  /** Calls of unmapped samples that would have been published. */
  unmappedCalls: number;
  /** Records taken by the WebAssembly fast path (the rest went through VcfParser.record()). */
  fastRecords: number;
  pgx: { active: boolean; reason: string; covered: number; total: number };
}

export interface WireHeaders {
  calls: Buffer;
  block: Buffer;
}

export interface VcfParserOptions {
  facts: FileFacts;
  mapping: SampleMapping;
  /** The PGx defining positions (GRCh38); without them only non-reference calls are kept. */
  pgx?: PgxPositionIndex;
  /**
   * Confluent wire headers (magic byte and schema id) put before each GenotypeCallSet and
   * VariantBlock body; none for dry runs. 'later': completed blocks are kept until
   * resolveWireHeaders gives them, so scanning need not wait for the schema registry.
   */
  wireHeaders?: WireHeaders | 'later';
  blockLines?: number;
  blockCalls?: number;
  /** false: every record goes through record(), none through the WebAssembly fast path (see fastScan). */
  fastPath?: boolean;
  /** Larger chunks are scanned in pieces of this size (default 256 MiB; tests lower it). */
  maxPushBytes?: number;
}

const INT_NULL = -2147483648;
/** INFO bytes looked at one by one before the rest is searched with indexOf. */
const INFO_BYTE_LOOP = 48;
const PASS = ['PASS'] as const;
const EMPTY: readonly string[] = [];
const NO_POSITIONS: Int32Array = new Int32Array(0);
/** FILTER PASS, Avro-encoded (most records). */
const PASS_BYTES = new Bytes().stringArray(PASS).take();
/** The gVCF placeholder alleles. */
const NON_REF = Buffer.from('<NON_REF>');
const ANY_ALT = Buffer.from('<*>');
/** A one-character allele: its number, -1 for '.', -2 when the character is not an allele. */
const ALLELE_CHAR = new Int8Array(256).fill(-2);
ALLELE_CHAR[46] = -1;
for (let d = 0; d <= 9; d++) ALLELE_CHAR[48 + d] = d;

/** A QUAL that is not a plain decimal: a float as VCF writes one (sign, exponent). */
export const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Bases a REF or ALT may contain (VCF 4.3: A, C, G, T, N in any case). */
const BASE = new Uint8Array(256);
for (const c of 'ACGTNacgtn') BASE[c.charCodeAt(0)] = 1;

interface Format {
  raw: Buffer;
  gt: number;
  dp: number;
  gq: number;
  ps: number;
  max: number;
}

/**
 * The block being built: one output stream per sample column, into which each kept call is
 * appended already Avro-encoded, as the record is scanned. Appending per sample keeps the writes
 * sequential (the events are per sample, the file is per record); flush() only adds the event
 * envelope around each stream. What one record appended can be undone (a rejected record).
 */
class BlockStreams {
  readonly out: Buffer[] = [];
  readonly len: Int32Array;
  readonly count: Int32Array;
  /** Calls in the block. */
  total = 0;
  // The state before the current record. Only records at PGx positions append here, so the copies
  // are taken at a record's first append, not for every record.
  private readonly savedLen: Int32Array;
  private readonly savedCount: Int32Array;
  private savedTotal = 0;
  private saved = false;

  constructor(n: number) {
    for (let i = 0; i < n; i++) this.out.push(Buffer.allocUnsafe(1024));
    this.len = new Int32Array(n);
    this.count = new Int32Array(n);
    this.savedLen = new Int32Array(n);
    this.savedCount = new Int32Array(n);
  }

  /** A record starts: what follows can be undone until the next begin(). */
  begin(): void {
    this.savedTotal = this.total;
    this.saved = false;
  }

  /** Before the record's first append. */
  willAppend(): void {
    if (this.saved) return;
    this.savedLen.set(this.len);
    this.savedCount.set(this.count);
    this.saved = true;
  }

  /** Takes back what the current record appended. */
  undo(): void {
    if (this.saved) {
      this.len.set(this.savedLen);
      this.count.set(this.savedCount);
    }
    this.total = this.savedTotal;
  }

  /** The stream of column col, grown to have room for `bytes` more bytes. */
  grow(col: number, bytes: number): Buffer {
    const b = this.out[col] as Buffer;
    const grown = Buffer.allocUnsafe(Math.max(b.length * 2, (this.len[col] as number) + bytes));
    b.copy(grown, 0, 0, this.len[col]);
    this.out[col] = grown;
    return grown;
  }

  clear(): void {
    this.len.fill(0);
    this.count.fill(0);
    this.total = 0;
    this.begin();
  }
}

/**
 * The variant block being built: its VariantSite records, encoded one after the other. The calls of
 * the record being scanned go to `calls` first (the site's call count precedes them); the site is
 * written when the record's scan has succeeded. Samples are marked as used when their call lands.
 */
class VariantBlockWriter {
  readonly sites = new Bytes();
  siteCount = 0;
  callCount = 0;
  readonly calls = new Bytes();
  recordCalls = 0;
  /** Columns with calls in the record being scanned (marked as used when the site is written). */
  recordColumns = new Int32Array(64);
  readonly used: Uint8Array;
  private readonly usedList: number[] = [];
  // The state before the current record (plain fields: begin() runs once per record).
  private savedLen = 0;
  private savedSites = 0;
  private savedCalls = 0;
  private savedUsed = 0;

  constructor(n: number) {
    this.used = new Uint8Array(n);
  }

  begin(): void {
    this.savedLen = this.sites.pos;
    this.savedSites = this.siteCount;
    this.savedCalls = this.callCount;
    this.savedUsed = this.usedList.length;
    this.calls.reset();
    this.recordCalls = 0;
  }

  undo(): void {
    this.sites.pos = this.savedLen;
    this.siteCount = this.savedSites;
    this.callCount = this.savedCalls;
    while (this.usedList.length > this.savedUsed) this.used[this.usedList.pop() as number] = 0;
    this.calls.reset();
    this.recordCalls = 0;
  }

  noteColumn(col: number): void {
    if (this.recordCalls >= this.recordColumns.length) {
      const grown = new Int32Array(this.recordColumns.length * 2);
      grown.set(this.recordColumns);
      this.recordColumns = grown;
    }
    this.recordColumns[this.recordCalls++] = col;
  }

  /** The record's calls become part of the block (after its site fields were written to `sites`). */
  commitRecord(): void {
    const w = this.sites;
    w.long(this.recordCalls).rawRange(this.calls.buf, 0, this.calls.pos).long(0);
    for (let i = 0; i < this.recordCalls; i++) {
      const col = this.recordColumns[i] as number;
      if (this.used[col] === 0) {
        this.used[col] = 1;
        this.usedList.push(col);
      }
    }
    this.siteCount++;
    this.callCount += this.recordCalls;
    this.calls.reset();
    this.recordCalls = 0;
  }

  /** Sites encoded by the fast path (their calls included); newlyUsed: the columns with calls among them. */
  appendSites(bytes: Buffer, sites: number, calls: number, newlyUsed: Int32Array): void {
    this.sites.raw(bytes);
    this.siteCount += sites;
    this.callCount += calls;
    for (const col of newlyUsed) {
      if (this.used[col] === 0) {
        this.used[col] = 1;
        this.usedList.push(col);
      }
    }
  }

  clear(): void {
    this.sites.reset();
    this.siteCount = 0;
    this.callCount = 0;
    for (const col of this.usedList) this.used[col] = 0;
    this.usedList.length = 0;
    this.begin();
  }
}

/** What scanSamples needs to know about the record being scanned (one reused object). */
interface Site {
  line: number;
  nAlts: number;
  /** Keep every call (PGx position), not only non-reference ones. */
  keepAll: boolean;
  /** Projection of a reference block onto an inner PGx position: only calls without ALT alleles. */
  refOnly: boolean;
  /** The site part of the calls is in siteBytes (encoded on the first kept call). */
  encoded: boolean;
  chrom: string;
  pos: number;
  /** The record's bytes: REF, ALT and ID are read from it when the site is encoded. */
  buf: Buffer;
  /** REF as a string when known (projections); otherwise buf[refStart, refEnd). */
  ref: string;
  refStart: number;
  refEnd: number;
  /** ALT as strings, or undefined: then the validated ASCII buf[altStart, altEnd), comma-separated. */
  alts: readonly string[] | undefined;
  altStart: number;
  altEnd: number;
  qual: number | null;
  filters: readonly string[];
  /** ID is buf[idStart, idEnd) (idStart < 0: missing, '.'), unless dropped (projections). */
  idStart: number;
  idEnd: number;
  /** recordRef when it is not just the line number. */
  recordRef: string;
}

function newSite(): Site {
  return {
    line: 0, nAlts: 0, keepAll: false, refOnly: false, encoded: false, chrom: '', pos: 0, buf: Buffer.alloc(0), ref: '',
    refStart: 0, refEnd: 0, alts: undefined, altStart: 0, altEnd: 0, qual: null, filters: [], idStart: -1, idEnd: -1, recordRef: '',
  };
}

export class VcfParser {
  readonly stats: VcfStats;
  header: VcfHeader | undefined;
  resolved: ResolvedSamples | undefined;

  /** Wire headers; undefined until known (see resolveWireHeaders). */
  private wire: WireHeaders | undefined;
  private readonly blockLinesLimit: number;
  private readonly blockCallsLimit: number;
  private lineage: Buffer;
  /** The file's sha256; '' until known (see resolveSha256). */
  private sha256: string;
  private waiting: DoneBlock[] = [];
  private waitingBytes = 0;
  private carry: Buffer | undefined;
  private signatureChecked = false;
  /** The first bytes of the file, until there are enough to tell a VCF. */
  private head = Buffer.alloc(0);
  private headerLines: string[] = [];
  private totalBytes = 0;
  private lineNo = 0;
  /** Lines to go before fastScan is tried again, and the pause after its next miss. */
  private fastWait = 0;
  private fastBackoff = 0;
  /** The WebAssembly fast path (undefined: off, or no sample columns). */
  private fast: WasmScan | undefined;

  // Per-file state after the header.
  private nSamples = 0;
  private heads: (Buffer | undefined)[] = [];
  private pgxActive = false;
  private readonly pgxSeen = new Set<string>();

  // Current contig.
  private chromRaw = Buffer.alloc(0);
  private chromName = '';
  private chrom: string | undefined;
  private pgxChrom: Map<number, PgxPosition> | undefined;

  // The last FILTER other than PASS and '.' (usually the same few values recur).
  private filterRaw = Buffer.from('PASS'); // not empty: an empty FILTER must not match
  private filterList: readonly string[] = PASS;
  /** filterList, encoded (for the fast path). */
  private filterEncoded = PASS_BYTES;

  // Current FORMAT.
  private format: Format | undefined;

  // Current block.
  /** '' between blocks (a string either way: keeps the per-record comparison monomorphic). */
  private blockChrom = '';
  private blockFirstLine = 0;
  private blockLines = 0;
  private block = new BlockStreams(0);
  private variants = new VariantBlockWriter(0);
  /** Per column: its BlockSample record (undefined for an unmapped sample). */
  private blockSamples: (Buffer | undefined)[] = [];
  private readonly site = newSite();
  /** Encodes the site part of the current site: the prefix (before GT), then the suffix. */
  private readonly siteBytes = new Bytes();
  /** Views of the prefix and suffix in siteBytes (copied with TypedArray#set: far faster than a byte loop). */
  private sitePrefix = new Uint8Array(0);
  private siteSuffix = new Uint8Array(0);
  /** Canonical CHROM of the current contig, Avro-encoded. */
  private chromBytes: Buffer = Buffer.alloc(0);
  /** Alleles of the call being decoded (GT has at most 255). */
  private readonly gt = new Int32Array(256);
  /** DP and GQ read by plainDpGq. */
  private readonly fields = new Int32Array(2);

  private events: EncodedEvent[] = [];
  private rejected: RejectedRecord[] = [];

  constructor(private readonly options: VcfParserOptions) {
    const wire = options.wireHeaders;
    this.wire = wire === 'later' ? undefined : (wire ?? { calls: Buffer.alloc(0), block: Buffer.alloc(0) });
    this.blockLinesLimit = options.blockLines ?? BLOCK_LINES;
    this.blockCallsLimit = options.blockCalls ?? BLOCK_CALLS;
    const f = options.facts;
    this.sha256 = f.sha256;
    this.lineage = this.lineageFor(f.sha256, f.sourceId);
    this.stats = {
      lines: 0,
      records: 0,
      calls: 0,
      nonRefCalls: 0,
      events: 0,
      blockEvents: 0,
      rejected: 0,
      skippedContigs: new Map(),
      recordsWithoutGenotypes: 0,
      unmappedCalls: 0,
      fastRecords: 0,
      pgx: { active: false, reason: 'no PGx positions given', covered: 0, total: options.pgx?.size ?? 0 },
    };
  }

  private lineageFor(sha256: string, sourceId: string): Buffer {
    const f = this.options.facts;
    return lineageBytes({ sourceId, sourceSha256: sha256, lab: f.lab, ingestedAt: f.ingestedAt, connector: CONNECTOR, pipelineVersion: f.pipelineVersion });
  }

  /** Patient and sample ids per column, and their encoded forms (fallback sample ids derive from the file's sha256). */
  private resolveColumns(header: VcfHeader, sha256: string): void {
    this.resolved = resolveSamples(header.samples, this.options.mapping, sha256);
    this.heads = this.resolved.columns.map((m) => (m === undefined ? undefined : sampleHead(m.patientId, m.sampleId, 'VCF', header.assembly)));
    this.blockSamples = this.resolved.columns.map((m, col) => (m === undefined ? undefined : blockSampleBytes(col, m.patientId, m.sampleId)));
  }

  /** Feeds the next bytes of the (decompressed) file. Throws InvalidInputError for file-level problems. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const most = this.options.maxPushBytes ?? MAX_PUSH_BYTES;
    if (chunk.length > most) {
      // Buffer#indexOf answers wrong past 2 GiB, and the fast path's memory holds a copy of a chunk.
      for (let i = 0; i < chunk.length; i += most) this.push(chunk.subarray(i, i + most));
      return;
    }
    this.fast?.forgetChunk(); // the caller may reuse its buffer
    this.totalBytes += chunk.length;
    if (!this.signatureChecked) {
      this.head = Buffer.concat([this.head, chunk.subarray(0, 64)]);
      if (this.head.length >= 32) {
        checkSignature(this.head);
        this.signatureChecked = true;
      }
    }
    let p = 0;
    if (this.carry !== undefined) {
      // Only the line that spans the chunks is copied; the rest is scanned in place.
      const nl = chunk.indexOf(10);
      if (nl < 0) {
        this.carry = Buffer.concat([this.carry, chunk]);
        if (this.carry.length > MAX_LINE_BYTES) throw new InvalidInputError(`line ${this.lineNo + 1} is longer than ${MAX_LINE_BYTES / 1048576} MB: not a VCF line`);
        return;
      }
      const joined = Buffer.concat([this.carry, chunk.subarray(0, nl)]);
      this.carry = undefined;
      this.line(joined, 0, joined.length > 0 && joined[joined.length - 1] === 13 ? joined.length - 1 : joined.length);
      p = nl + 1;
    }
    for (;;) {
      if (this.fastWait === 0) p = this.fastScan(chunk, p);
      else this.fastWait--;
      const nl = chunk.indexOf(10, p);
      if (nl < 0) break;
      this.line(chunk, p, nl > p && chunk[nl - 1] === 13 ? nl - 1 : nl);
      p = nl + 1;
    }
    if (p < chunk.length) {
      if (chunk.length - p > MAX_LINE_BYTES) throw new InvalidInputError(`line ${this.lineNo + 1} is longer than ${MAX_LINE_BYTES / 1048576} MB: not a VCF line`);
      this.carry = Buffer.from(chunk.subarray(p));
    }
  }

  /** The end of the input: publishes the last block. Throws for an empty or header-only file. */
  end(): void {
    if (this.totalBytes === 0) throw new InvalidInputError('the file is empty');
    if (!this.signatureChecked) checkSignature(this.head);
    if (this.carry !== undefined) {
      const last = this.carry;
      this.carry = undefined;
      this.line(last, 0, last[last.length - 1] === 13 ? last.length - 1 : last.length);
    }
    if (this.header === undefined) {
      if (this.headerLines.length > 0 && this.headerLines[this.headerLines.length - 1]?.startsWith('#CHROM') === true) {
        this.startData();
        throw new InvalidInputError('the VCF has a header but no records');
      }
      throw new InvalidInputError('the file ends inside the VCF header (no #CHROM line)');
    }
    if (this.stats.records === 0) throw new InvalidInputError('the VCF has a header but no records');
    this.flush();
    this.stats.pgx.covered = this.pgxSeen.size;
  }

  /** Takes what was produced since the last call. */
  take(): { events: EncodedEvent[]; rejected: RejectedRecord[] } {
    const out = { events: this.events, rejected: this.rejected };
    this.events = [];
    this.rejected = [];
    return out;
  }

  get assembly(): Assembly | undefined {
    return this.header?.assembly;
  }

  private line(buf: Buffer, s: number, e: number): void {
    const line = ++this.lineNo;
    this.stats.lines = line;
    if (this.header === undefined) {
      if (e > s && buf[s] === 35) {
        this.headerLines.push(buf.toString('utf8', s, e));
        return;
      }
      if (e === s && this.headerLines.length === 0) throw new InvalidInputError('line 1 is empty: a VCF starts with ##fileformat=VCFv4.x');
      this.startData();
    }
    if (e === s) return; // a blank line carries no data (typically the last one)
    this.stats.records++;
    const { nonRefCalls, unmappedCalls } = this.stats;
    try {
      this.record(buf, s, e, line);
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      // Undo what the record added to the block (marked after any block flush it caused) and to the
      // counts of its calls.
      this.block.undo();
      this.variants.undo();
      this.stats.nonRefCalls = nonRefCalls;
      this.stats.unmappedCalls = unmappedCalls;
      this.stats.rejected++;
      const end = Math.min(e, s + 1048576);
      this.rejected.push({ line, error: new InvalidInputError(`line ${line}: ${error.message}`), bytes: Buffer.from(buf.subarray(s, end)) });
    }
  }

  /**
   * Hands the complete lines from p to the WebAssembly fast path (wasm-scan.ts, assembly/scan.ts),
   * which takes the usual records of the current contig, FORMAT and block, and stops at the first
   * line it leaves to record(). Returns where it stopped. When it keeps stopping at once (a file of
   * shapes it does not take), it is tried again only after a growing number of lines.
   */
  private fastScan(chunk: Buffer, p: number): number {
    const fast = this.fast;
    const chrom = this.chrom;
    const fmt = this.format;
    if (fast === undefined || chrom === undefined || chrom !== this.blockChrom || fmt === undefined || fmt.gt !== 0) return p;
    const pgx = this.pgxChrom === undefined ? NO_POSITIONS : (this.options.pgx?.sortedPositions(chrom) ?? NO_POSITIONS);
    if (!fast.setContext(this.chromRaw, fmt, this.filterRaw, this.filterEncoded, pgx)) return p;
    const variants = this.variants;
    const r = fast.scan(chunk, p, this.lineNo, this.blockLines, this.blockLinesLimit, this.blockCallsLimit - this.block.total - variants.callCount, BLOCK_BYTES - variants.sites.pos);
    if (r.lines === 0) {
      this.fastBackoff = Math.min(64, this.fastBackoff * 2 + 1);
      this.fastWait = this.fastBackoff;
      return p;
    }
    this.fastBackoff = 0;
    this.lineNo += r.lines;
    this.stats.lines = this.lineNo;
    this.stats.records += r.lines;
    this.stats.fastRecords += r.lines;
    this.blockLines = r.blockLines;
    if (r.sites > 0) variants.appendSites(r.siteBytes, r.sites, r.calls, r.newlyUsed);
    this.stats.nonRefCalls += r.calls;
    this.stats.unmappedCalls += r.unmapped;
    return r.stop;
  }

  private startData(): void {
    if (this.header !== undefined) return;
    const header = parseHeader(this.headerLines);
    this.headerLines = [];
    this.header = header;
    this.nSamples = header.samples.length;
    this.block = new BlockStreams(this.nSamples);
    this.resolveColumns(header, this.sha256);
    this.variants = new VariantBlockWriter(this.nSamples);
    if (this.options.fastPath !== false && this.nSamples > 0) {
      this.fast = new WasmScan(this.nSamples, this.heads.map((h) => h !== undefined), this.options.pgx?.size ?? 0);
    }
    const pgx = this.options.pgx;
    if (pgx === undefined) this.stats.pgx.reason = 'no PGx positions given';
    else if (header.assembly === 'GRCh37') {
      this.stats.pgx.reason = 'GRCh37 input: the PGx positions are GRCh38, so hom-ref/no-call calls are not kept (only non-reference calls are published)';
    } else {
      this.pgxActive = true;
      this.stats.pgx.active = true;
      this.stats.pgx.reason =
        header.assembly === 'GRCh38'
          ? `GRCh38: every call at the ${pgx.size} PGx positions is published`
          : `build UNKNOWN: calls at the ${pgx.size} GRCh38 PGx positions are kept, marked UNKNOWN`;
    }
  }

  private record(buf: Buffer, s: number, e: number, line: number): void {
    this.block.begin();
    this.variants.begin();
    if (buf[s] === 35) throw new InvalidInputError('a header line (#) after the first record');
    // The tabs of the 9 fixed columns. CHROM to FILTER and FORMAT are short: one byte loop is cheaper
    // than an indexOf call per field. INFO can run to kilobytes in annotated files: past a short
    // stretch it is left to indexOf (memchr).
    let t0 = -1;
    let t1 = -1;
    let t2 = -1;
    let t3 = -1;
    let t4 = -1;
    let t5 = -1;
    let t6 = -1;
    let t7 = -1;
    let t8 = -1;
    let k = 0;
    for (let i = s; i < e; i++) {
      if (buf[i] !== 9) continue;
      if (k === 0) t0 = i;
      else if (k === 1) t1 = i;
      else if (k === 2) t2 = i;
      else if (k === 3) t3 = i;
      else if (k === 4) t4 = i;
      else if (k === 5) t5 = i;
      else {
        t6 = i;
        break;
      }
      k++;
    }
    if (t6 >= 0) {
      let i = t6 + 1;
      const near = Math.min(e, i + INFO_BYTE_LOOP);
      while (i < near && buf[i] !== 9) i++;
      if (i === near && i < e) {
        const tab = buf.indexOf(9, i); // may be past the line's end: then INFO is its last column
        i = tab < 0 || tab >= e ? e : tab;
      }
      if (i < e) {
        t7 = i;
        for (i++; i < e; i++) {
          if (buf[i] === 9) {
            t8 = i;
            break;
          }
        }
      }
    }
    if (t0 < 0) throw new InvalidInputError('expected tab-separated columns, found none');
    // The fixed columns and a sample column are checked first, so a record cut short is reported
    // even on a contig that is not published.
    if (t8 < 0) throw this.wrongColumnCount(countTabs(buf, s, e) + 1);
    // (An empty ID, which some pipelines write, is read as missing.)
    if (t0 === s || t7 === t6 + 1) throw new InvalidInputError(`${t0 === s ? 'CHROM' : 'INFO'} is empty (a missing value is '.')`);
    // CHROM (the previous record's contig is compared byte-wise first)
    if (!sameBytes(buf, s, t0, this.chromRaw)) {
      this.chromRaw = Buffer.from(buf.subarray(s, t0));
      this.chromName = this.chromRaw.toString('utf8');
      this.chrom = normaliseChrom(this.chromName);
      this.chromBytes = this.chrom === undefined ? Buffer.alloc(0) : new Bytes().string(this.chrom).take();
      this.pgxChrom = this.pgxActive && this.chrom !== undefined ? this.options.pgx?.chrom(this.chrom) : undefined;
    }
    const chrom = this.chrom;
    if (chrom === undefined) {
      const skipped = this.stats.skippedContigs;
      skipped.set(this.chromName, (skipped.get(this.chromName) ?? 0) + 1);
      return;
    }
    const variants = this.variants;
    if (
      chrom !== this.blockChrom ||
      this.blockLines >= this.blockLinesLimit ||
      this.block.total + variants.callCount >= this.blockCallsLimit ||
      variants.sites.pos >= BLOCK_BYTES
    ) {
      this.flush();
      this.blockChrom = chrom;
      this.blockFirstLine = line;
    }
    this.blockLines++;

    // POS
    let pos = 0;
    for (let i = t0 + 1; i < t1; i++) {
      const d = (buf[i] as number) - 48;
      if (d < 0 || d > 9) throw new InvalidInputError(`POS '${buf.toString('latin1', t0 + 1, t1)}' is not a position`);
      pos = pos * 10 + d;
    }
    if (t1 === t0 + 1 || pos < 1 || !Number.isSafeInteger(pos) || buf[t0 + 1] === 48) {
      throw new InvalidInputError(`POS '${buf.toString('latin1', t0 + 1, t1)}' is not a 1-based position (no leading zeros; POS 0, a telomere, cannot be represented)`);
    }
    // REF
    if (t3 === t2 + 1) throw new InvalidInputError('REF is empty');
    for (let i = t2 + 1; i < t3; i++) {
      if (BASE[buf[i] as number] !== 1) throw new InvalidInputError(`REF '${clip(buf.toString('utf8', t2 + 1, t3))}' is not a sequence of A, C, G, T, N`);
    }
    // ALT: checked on the bytes; a record the check does not accept goes the string way, which says why.
    let alts: readonly string[] | undefined;
    let nAlts = 0;
    let refBlock = false;
    if (t4 === t3 + 2 && buf[t3 + 1] === 46) alts = EMPTY;
    else {
      const kinds = altKinds(buf, t3 + 1, t4);
      if (kinds >= 0) {
        nAlts = kinds >>> 1;
        refBlock = (kinds & 1) === 1;
      } else {
        alts = buf.toString('utf8', t3 + 1, t4).split(',');
        let gvcf = 0;
        for (const alt of alts) {
          const kind = alleleKind(alt);
          if (kind === 'gvcf') gvcf++;
          else if (kind !== 'bases') throw new InvalidInputError(kind);
        }
        refBlock = gvcf === alts.length;
      }
    }
    if (alts !== undefined) nAlts = alts.length;
    // FORMAT (cached while it stays the same)
    let fmt = this.format;
    if (fmt === undefined || !sameBytes(buf, t7 + 1, t8, fmt.raw)) {
      fmt = parseFormat(Buffer.from(buf.subarray(t7 + 1, t8)));
      this.format = fmt;
    }
    // QUAL, FILTER (ID is read when the site is encoded)
    let qual: number | null = null;
    if (!(t5 === t4 + 2 && buf[t4 + 1] === 46)) {
      qual = plainDecimal(buf, t4 + 1, t5);
      if (qual < 0) {
        const text = buf.toString('latin1', t4 + 1, t5);
        qual = Number(text);
        if (!FLOAT.test(text) || !Number.isFinite(qual)) throw new InvalidInputError(`QUAL '${clip(text)}' is not a number`);
      }
    }
    let filters: readonly string[] = EMPTY;
    if (t6 === t5 + 5 && buf[t5 + 1] === 80 && buf[t5 + 2] === 65 && buf[t5 + 3] === 83 && buf[t5 + 4] === 83) filters = PASS;
    else if (!(t6 === t5 + 2 && buf[t5 + 1] === 46)) {
      if (sameBytes(buf, t5 + 1, t6, this.filterRaw)) filters = this.filterList;
      else {
        const text = buf.toString('utf8', t5 + 1, t6);
        filters = text === 'PASS' ? PASS : text.split(';');
        if (filters.includes('')) throw new InvalidInputError(`FILTER '${clip(text)}' has an empty filter name`);
        this.filterRaw = Buffer.from(buf.subarray(t5 + 1, t6));
        this.filterList = filters;
        this.filterEncoded = new Bytes().stringArray(filters).take();
      }
    }
    if (fmt.gt < 0) {
      // Nothing to publish, but a record with the wrong number of columns is still a broken record.
      const sampleColumns = countTabs(buf, t8, e);
      if (sampleColumns !== this.nSamples) throw this.wrongColumnCount(9 + sampleColumns);
      this.stats.recordsWithoutGenotypes++;
      return;
    }
    const pgxHere = this.pgxChrom?.get(pos) !== undefined;
    if (pgxHere) this.pgxSeen.add(`${chrom}:${pos}`);
    const site = this.site;
    site.line = line;
    site.nAlts = nAlts;
    site.keepAll = pgxHere;
    site.refOnly = false;
    site.encoded = false;
    site.chrom = chrom;
    site.pos = pos;
    site.buf = buf;
    site.ref = '';
    site.refStart = t2 + 1;
    site.refEnd = t3;
    site.alts = alts;
    site.altStart = t3 + 1;
    site.altEnd = t4;
    site.qual = qual;
    site.filters = filters;
    site.idStart = t2 === t1 + 1 || (t2 === t1 + 2 && buf[t1 + 1] === 46) ? -1 : t1 + 1;
    site.idEnd = t2;
    site.recordRef = '';
    this.scanSamples(buf, t8 + 1, e, fmt, site);
    if (!pgxHere && variants.recordCalls > 0) {
      // The record's non-reference calls go to the variant block, after its site fields.
      const w = variants.sites.long(pos);
      this.writeAlleles(w, site);
      this.writeQualFiltersId(w, site);
      w.decimal(line);
      variants.commitRecord();
    }

    // A gVCF reference block asserts its genotype at every position up to END: project it onto the
    // PGx positions inside the block (hom-ref and no-call calls only; see README).
    if (refBlock && this.pgxActive && this.pgxChrom !== undefined) {
      const end = infoEnd(buf, t6 + 1, t7);
      if (end === undefined || end <= pos) return;
      for (const p of this.options.pgx?.within(chrom, pos + 1, end) ?? []) {
        if (p.pos + p.ref.length - 1 > end) continue;
        this.pgxSeen.add(`${chrom}:${p.pos}`);
        site.keepAll = true;
        site.refOnly = true;
        site.encoded = false;
        site.pos = p.pos;
        site.ref = p.ref;
        site.alts = EMPTY;
        site.idStart = -1;
        site.recordRef = `${line} (reference block ${pos}-${end})`;
        this.scanSamples(buf, t8 + 1, e, fmt, site);
      }
    }
  }

  /**
   * Encodes the site part of the calls (chrom, pos, ref, alts / quality, filters, variantId, gene,
   * recordRef) once, when the first call at the site is kept; every call at the site copies it.
   */
  private encodeSite(site: Site): void {
    const w = this.siteBytes.reset().raw(this.chromBytes).long(site.pos);
    this.writeAlleles(w, site);
    const prefixEnd = w.pos;
    this.writeQualFiltersId(w, site);
    w.long(0); // gene: a VCF does not state it
    if (site.recordRef !== '') w.string(site.recordRef);
    else w.decimal(site.line);
    this.sitePrefix = new Uint8Array(w.buf.buffer, w.buf.byteOffset, prefixEnd);
    this.siteSuffix = new Uint8Array(w.buf.buffer, w.buf.byteOffset + prefixEnd, w.pos - prefixEnd);
    site.encoded = true;
  }

  /** ref and alts of a site. */
  private writeAlleles(w: Bytes, site: Site): void {
    const buf = site.buf;
    if (site.ref !== '') w.string(site.ref);
    else w.rawString(buf, site.refStart, site.refEnd); // validated bases: ASCII
    if (site.alts !== undefined) w.stringArray(site.alts);
    else {
      // Validated ALT alleles (bases, '*', '<NON_REF>', '<*>'): ASCII, so the bytes are the strings.
      w.long(site.nAlts);
      let a = site.altStart;
      for (let i = site.altStart; i <= site.altEnd; i++) {
        if (i === site.altEnd || buf[i] === 44) {
          w.rawString(buf, a, i);
          a = i + 1;
        }
      }
      w.long(0);
    }
  }

  /** quality, filters and variantId of a site. */
  private writeQualFiltersId(w: Bytes, site: Site): void {
    const buf = site.buf;
    if (site.qual === null) w.long(0);
    else w.long(1).double(site.qual);
    if (site.filters === PASS) w.raw(PASS_BYTES);
    else w.stringArray(site.filters);
    if (site.idStart < 0) w.long(0);
    else if (isAscii(buf, site.idStart, site.idEnd)) w.long(1).rawString(buf, site.idStart, site.idEnd);
    else w.long(1).string(buf.toString('utf8', site.idStart, site.idEnd));
  }

  private wrongColumnCount(found: number): InvalidInputError {
    return new InvalidInputError(`expected ${9 + this.nSamples} tab-separated columns (9 + ${this.nSamples} samples), found ${found}`);
  }

  /** Walks the sample columns of one record, appending the calls the site asks for to their samples' streams. */
  private scanSamples(buf: Buffer, start: number, e: number, fmt: Format, site: Site): void {
    const n = this.nSamples;
    const heads = this.heads;
    const gt = this.gt;
    const fields = this.fields;
    const nAlts = site.nAlts;
    const keepAll = site.keepAll;
    const refOnly = site.refOnly;
    const gtFirst = fmt.gt === 0;
    // 'GT:DP:GQ[:...]', the usual FORMAT: DP and GQ can be read in the pass that finds the column end.
    const dpGq = gtFirst && fmt.dp === 1 && fmt.gq === 2 && fmt.ps < 0;
    let p = start;
    for (let col = 0; col < n; col++) {
      if (p > e) throw new InvalidInputError(`found ${col} sample columns, the header names ${n}`);
      const fs = p;
      let ploidy = 0;
      let hasAlt = false;
      let allPhased = true;
      let walkFrom = fs;
      if (gtFirst) {
        // The usual GT: two one-character alleles ('0/1', '1|1', './.'), then ':' or the end of the
        // column, decoded here. A column the site wants nothing from is skipped to its tab; anything
        // unusual goes the general way below (which also says what is wrong).
        const b1 = buf[p + 1];
        if ((b1 === 47 || b1 === 124) && p + 2 < e) {
          const b3 = p + 3 < e ? buf[p + 3] : 9;
          const a0 = ALLELE_CHAR[buf[p] as number] as number;
          const a1 = ALLELE_CHAR[buf[p + 2] as number] as number;
          if ((b3 === 58 || b3 === 9) && a0 >= -1 && a1 >= -1 && a0 <= nAlts && a1 <= nAlts) {
            hasAlt = a0 > 0 || a1 > 0;
            const keep = refOnly ? !hasAlt : hasAlt || keepAll;
            if (!keep || heads[col] === undefined) {
              if (keep) this.stats.unmappedCalls++;
              p += 3;
              while (p < e && buf[p] !== 9) p++;
              p++;
              continue;
            }
            gt[0] = a0;
            gt[1] = a1;
            ploidy = 2;
            allPhased = b1 === 124;
            if (dpGq) {
              const end = plainDpGq(buf, p + 3, e, fields);
              if (end >= 0) {
                if (keepAll) this.appendCall(site, col, 2, allPhased ? 1 : 0, NaN, fields[0] as number, fields[1] as number, hasAlt);
                else this.appendBlockDiploid(col, a0, a1, allPhased ? 1 : 0, fields[0] as number, fields[1] as number);
                p = end + 1;
                continue;
              }
            }
            walkFrom = p + 3;
          }
        } else if (!keepAll && buf[p] === 48 && (p + 1 >= e || b1 === 58 || b1 === 9)) {
          // Haploid '0': reference, skipped.
          p++;
          while (p < e && buf[p] !== 9) p++;
          p++;
          continue;
        }
      }
      // The subfields we need, and the column end, in one pass.
      let gtS = -1;
      let gtE = -1;
      let dpS = -1;
      let dpE = -1;
      let gqS = -1;
      let gqE = -1;
      let psS = -1;
      let psE = -1;
      let k = 0;
      let ss = fs;
      let fe = walkFrom;
      for (;; fe++) {
        const ch = fe < e ? buf[fe] : 9;
        if (ch === 9 || ch === 58) {
          if (k === fmt.gt) {
            gtS = ss;
            gtE = fe;
          } else if (k === fmt.dp) {
            dpS = ss;
            dpE = fe;
          } else if (k === fmt.gq) {
            gqS = ss;
            gqE = fe;
          } else if (k === fmt.ps) {
            psS = ss;
            psE = fe;
          }
          k++;
          ss = fe + 1;
          if (ch === 9) break;
        }
      }
      if (fe === fs) throw new InvalidInputError(`sample column ${col + 1} is empty (a missing value is '.')`);
      p = fe + 1;
      // GT, decoded in place (unless done above: then the call is known to be kept).
      if (ploidy === 0) {
        let leadingPhase = 0;
        if (gtS < 0 || gtS === gtE) {
          gt[0] = -1; // GT dropped from the column: missing
          ploidy = 1;
        } else {
          let a = gtS;
          const lead = buf[a];
          if (lead === 124 || lead === 47) {
            leadingPhase = lead === 124 ? 1 : 0;
            a++;
          }
          for (;;) {
            const c = buf[a] as number;
            let allele: number;
            if (c === 46 && a < gtE) {
              allele = -1;
              a++;
            } else if (c >= 48 && c <= 57 && a < gtE) {
              allele = 0;
              while (a < gtE && (buf[a] as number) >= 48 && (buf[a] as number) <= 57) allele = allele * 10 + (buf[a++] as number) - 48;
              if (allele > nAlts) {
                throw new InvalidInputError(`sample column ${col + 1}: GT '${clip(buf.toString('latin1', gtS, gtE))}' names allele ${allele}, but the record has ${nAlts} ALT allele${nAlts === 1 ? '' : 's'}`);
              }
              if (allele > 0) hasAlt = true;
            } else {
              throw new InvalidInputError(`sample column ${col + 1}: GT '${clip(buf.toString('latin1', gtS, gtE))}' is not a genotype`);
            }
            gt[ploidy++] = allele;
            if (a >= gtE) break;
            const sep = buf[a];
            if (sep === 47) allPhased = false;
            else if (sep !== 124) throw new InvalidInputError(`sample column ${col + 1}: GT '${clip(buf.toString('latin1', gtS, gtE))}' is not a genotype`);
            a++;
            if (ploidy >= 255) throw new InvalidInputError(`sample column ${col + 1}: GT has more than 255 alleles`);
          }
        }
        const keep = refOnly ? !hasAlt : hasAlt || keepAll;
        if (!keep) continue;
        if (heads[col] === undefined) {
          this.stats.unmappedCalls++;
          continue;
        }
        if (ploidy === 1) allPhased = leadingPhase === 1; // a haploid call is phased by a leading '|'
      }
      const depth = dpS < 0 ? INT_NULL : int32Field(buf, dpS, dpE, 'DP', col);
      const quality = gqS < 0 ? INT_NULL : int32Field(buf, gqS, gqE, 'GQ', col);
      const phaseSet = psS < 0 ? NaN : longField(buf, psS, psE, col);
      this.appendCall(site, col, ploidy, allPhased ? 1 : 0, phaseSet, depth, quality, hasAlt);
    }
    if (p <= e) throw new InvalidInputError(`more sample columns than the ${n} the header names`);
  }

  /**
   * Appends one kept call to its sample's stream, as avsc would write it: the site prefix, gt,
   * phased, phaseSet, depth, genotypeQuality, the site suffix. The alleles are in this.gt.
   */
  private appendCall(site: Site, col: number, ploidy: number, phased: number, phaseSet: number, depth: number, quality: number, hasAlt: boolean): void {
    if (!site.keepAll) {
      this.appendBlockCall(col, ploidy, phased, phaseSet, depth, quality);
      return;
    }
    if (!site.encoded) this.encodeSite(site);
    const block = this.block;
    const gt = this.gt;
    const prefix = this.sitePrefix;
    const suffix = this.siteSuffix;
    block.willAppend();
    let at = block.len[col] as number;
    let out = block.out[col] as Buffer;
    const room = prefix.length + suffix.length + 6 * ploidy + 32;
    if (at + room > out.length) out = block.grow(col, room);
    out.set(prefix, at);
    at = writeGenotype(out, at + prefix.length, gt, ploidy, phased, phaseSet, depth, quality);
    out.set(suffix, at);
    block.len[col] = at + suffix.length;
    block.count[col] = (block.count[col] as number) + 1;
    block.total++;
    if (hasAlt) this.stats.nonRefCalls++;
  }

  /**
   * appendBlockCall for the usual call (two one-character alleles, DP and GQ, no PS), each small
   * number written as its one-byte zigzag varint: this runs once per non-reference call.
   */
  private appendBlockDiploid(col: number, a0: number, a1: number, phased: number, depth: number, quality: number): void {
    const variants = this.variants;
    const w = variants.calls;
    if (w.pos + 40 > w.buf.length) w.room(40);
    const out = w.buf;
    let at = w.pos;
    if (col < 64) out[at++] = col << 1;
    else at = writeLong(out, at, col);
    out[at++] = 4; // gt: two items
    if (a0 < 0) out[at++] = 0;
    else {
      out[at++] = 2;
      out[at++] = a0 << 1; // 0-9
    }
    if (a1 < 0) out[at++] = 0;
    else {
      out[at++] = 2;
      out[at++] = a1 << 1;
    }
    out[at++] = 0; // end of gt
    out[at++] = phased;
    out[at++] = 0; // no PS
    out[at++] = 2;
    if (depth < 64) out[at++] = depth << 1;
    else at = writeLong(out, at, depth);
    out[at++] = 2;
    if (quality < 64) out[at++] = quality << 1;
    else at = writeLong(out, at, quality);
    w.pos = at;
    variants.noteColumn(col);
    this.stats.nonRefCalls++;
  }

  /** A non-reference call away from PGx positions, as a SampleCall of the variant block's current record. */
  private appendBlockCall(col: number, ploidy: number, phased: number, phaseSet: number, depth: number, quality: number): void {
    const variants = this.variants;
    const w = variants.calls;
    w.room(6 * ploidy + 48);
    const out = w.buf;
    w.pos = writeGenotype(out, writeLong(out, w.pos, col), this.gt, ploidy, phased, phaseSet, depth, quality);
    variants.noteColumn(col);
    this.stats.nonRefCalls++;
  }

  /** Publishes the block: its variant block, and one event per sample with calls at PGx positions, in column order. */
  private flush(): void {
    const variants = this.variants;
    const block = this.block;
    if (variants.siteCount > 0 || block.total > 0) {
      const done: DoneBlock = { firstLine: this.blockFirstLine, chrom: this.blockChrom, samples: [], sites: undefined, siteCount: 0, blockCalls: 0, used: [] };
      if (variants.siteCount > 0) {
        done.sites = variants.sites.buf.subarray(0, variants.sites.pos);
        done.siteCount = variants.siteCount;
        done.blockCalls = variants.callCount;
        for (let col = 0; col < this.nSamples; col++) if (variants.used[col] === 1) done.used.push(col);
      }
      for (let col = 0; col < this.nSamples; col++) {
        const count = block.count[col] as number;
        if (count > 0) done.samples.push({ col, count, calls: (block.out[col] as Buffer).subarray(0, block.len[col]) });
      }
      if (this.sha256 !== '' && this.wire !== undefined) this.emit(done);
      else {
        // The file's hash or the wire headers are not known yet: keep a copy of the block until
        // they are (see resolveSha256, resolveWireHeaders).
        if (done.sites !== undefined) done.sites = Buffer.from(done.sites);
        for (const sample of done.samples) sample.calls = Buffer.from(sample.calls);
        this.waiting.push(done);
        this.waitingBytes += (done.sites?.length ?? 0) + done.samples.reduce((n, x) => n + x.calls.length, 0);
      }
    }
    variants.clear();
    block.clear();
    this.blockLines = 0;
    this.blockChrom = '';
  }

  /**
   * The file's sha256, for a parser created without it (the runner hashes a large file while it is
   * being scanned): event ids, fallback sample ids and lineage depend on it, so the blocks completed
   * so far were kept, and become events now.
   */
  resolveSha256(sha256: string, sourceId: string): void {
    if (this.sha256 !== '') throw new Error('the sha256 of the file is already known');
    this.sha256 = sha256;
    this.lineage = this.lineageFor(sha256, sourceId);
    if (this.header !== undefined) this.resolveColumns(this.header, sha256);
    this.release();
  }

  /** The wire headers, for a parser created with wireHeaders 'later'. */
  resolveWireHeaders(wire: WireHeaders): void {
    if (this.wire !== undefined) throw new Error('the wire headers are already known');
    this.wire = wire;
    this.release();
  }

  /** Once the hash and the wire headers are known, the kept blocks become events. */
  private release(): void {
    if (this.sha256 === '' || this.wire === undefined) return;
    for (const done of this.waiting) this.emit(done);
    this.waiting = [];
    this.waitingBytes = 0;
  }

  /** Bytes of completed blocks kept until the file's sha256 and the wire headers are known. */
  get bytesWaiting(): number {
    return this.waitingBytes;
  }

  private emit(done: DoneBlock): void {
    if (done.sites !== undefined) {
      this.events.push(this.encodeBlockEvent(done));
      this.stats.events++;
      this.stats.blockEvents++;
      this.stats.calls += done.blockCalls;
    }
    const mapped = this.resolved?.columns ?? [];
    for (const { col, count, calls } of done.samples) {
      this.events.push(this.encodeEvent(col, mapped[col]?.patientId as string, this.heads[col] as Buffer, count, calls, done.firstLine));
      this.stats.events++;
      this.stats.calls += count;
    }
  }

  /** The event of one sample: the envelope around the calls already encoded in its stream. */
  private encodeEvent(col: number, patientId: string, head: Buffer, count: number, calls: Buffer, firstLine: number): EncodedEvent {
    const eventId = createHash('sha256').update(`${this.sha256}:${col}:${firstLine}`).digest('hex').slice(0, 32);
    const wire = (this.wire as WireHeaders).calls;
    const size = wire.length + 34 + head.length + MAX_LONG_BYTES + calls.length + 1 + this.lineage.length;
    const out = Buffer.allocUnsafe(size);
    let pos = put(out, 0, wire);
    pos = writeString(out, pos, eventId);
    pos = put(out, pos, head);
    pos = writeLong(out, pos, count);
    pos += calls.copy(out, pos);
    out[pos++] = 0; // end of the calls array
    pos = put(out, pos, this.lineage);
    return { kind: 'calls', key: patientId, eventId, value: out.subarray(0, pos), calls: count };
  }

  /** The VariantBlock: envelope, the samples with calls, the sites already encoded. */
  private encodeBlockEvent(done: DoneBlock): EncodedEvent {
    const sites = done.sites ?? Buffer.alloc(0);
    const wire = (this.wire as WireHeaders).block;
    const eventId = createHash('sha256').update(`${this.sha256}:block:${done.firstLine}`).digest('hex').slice(0, 32);
    let sampleBytes = 0;
    for (const col of done.used) sampleBytes += (this.blockSamples[col] as Buffer).length;
    const w = new Bytes();
    w.room(wire.length + 40 + done.chrom.length + sampleBytes + sites.length + this.lineage.length + 4 * MAX_LONG_BYTES);
    w.raw(wire)
      .string(eventId)
      .long(0) // sourceKind VCF
      .long(ASSEMBLIES.indexOf(this.header?.assembly ?? 'UNKNOWN'))
      .string(done.chrom)
      .long(done.used.length);
    for (const col of done.used) w.raw(this.blockSamples[col] as Buffer);
    if (done.used.length > 0) w.long(0);
    w.long(done.siteCount).raw(sites).long(0).raw(this.lineage);
    return { kind: 'block', key: eventId, eventId, value: w.buf.subarray(0, w.pos), calls: done.blockCalls };
  }
}

/** A completed block, ready to become events (views of the live buffers, or copies while it waits). */
interface DoneBlock {
  firstLine: number;
  chrom: string;
  /** Per sample with calls at PGx positions: its encoded calls. */
  samples: { col: number; count: number; calls: Buffer }[];
  /** The variant block's encoded sites, if it has any. */
  sites: Buffer | undefined;
  siteCount: number;
  blockCalls: number;
  /** Columns with calls in the variant block, ascending. */
  used: number[];
}

/**
 * gt, phased, phaseSet, depth, genotypeQuality as avsc writes them (the same fields, in the same
 * order, in GenotypeCall and SampleCall); the alleles are gt[0, ploidy), -1 = missing. Returns the end.
 */
function writeGenotype(out: Buffer, at: number, gt: Int32Array, ploidy: number, phased: number, phaseSet: number, depth: number, quality: number): number {
  at = writeLong(out, at, ploidy);
  for (let j = 0; j < ploidy; j++) {
    const allele = gt[j] as number;
    if (allele < 0) out[at++] = 0;
    else {
      out[at++] = 2;
      at = writeLong(out, at, allele);
    }
  }
  out[at++] = 0; // end of the gt array
  out[at++] = phased;
  if (Number.isNaN(phaseSet)) out[at++] = 0;
  else {
    out[at++] = 2;
    at = writeLong(out, at, phaseSet);
  }
  if (depth === INT_NULL) out[at++] = 0;
  else {
    out[at++] = 2;
    at = writeLong(out, at, depth);
  }
  if (quality === INT_NULL) out[at++] = 0;
  else {
    out[at++] = 2;
    at = writeLong(out, at, quality);
  }
  return at;
}

/** Copies src into out at pos (a byte loop beats Buffer#copy for the short site parts). */
function put(out: Buffer, pos: number, src: Buffer): number {
  const n = src.length;
  if (n > 48) {
    out.set(src, pos);
    return pos + n;
  }
  for (let i = 0; i < n; i++) out[pos + i] = src[i] as number;
  return pos + n;
}

/** Whether buf[s, e) equals ref (a byte loop: the fields compared are short). */
function sameBytes(buf: Buffer, s: number, e: number, ref: Buffer): boolean {
  if (e - s !== ref.length) return false;
  for (let i = 0; i < ref.length; i++) if (buf[s + i] !== ref[i]) return false;
  return true;
}

/** Exact powers of ten (10^0 .. 10^22 are exact doubles). */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/**
 * A plain decimal (digits, at most one '.', at most 15 digits) read on the bytes, or -1 for
 * anything else. Exactly Number(text): the digits form an exact integer below 2^53 and 10^k is
 * exact, so the one division is correctly rounded, as Number() is.
 */
function plainDecimal(buf: Buffer, s: number, e: number): number {
  let m = 0;
  let digits = 0;
  let dot = -1;
  for (let i = s; i < e; i++) {
    const c = buf[i] as number;
    if (c >= 48 && c <= 57) {
      m = m * 10 + c - 48;
      digits++;
    } else if (c === 46 && dot < 0) dot = i;
    else return -1;
  }
  if (digits === 0 || digits > 15) return -1;
  return dot < 0 ? m : m / (POW10[e - dot - 1] as number);
}

function isAscii(buf: Buffer, s: number, e: number): boolean {
  for (let i = s; i < e; i++) if ((buf[i] as number) > 127) return false;
  return true;
}

/**
 * The ALT alleles of buf[s, e) checked on the bytes: (count << 1) | (1 when all are gVCF
 * placeholders), or -1 when an allele is not plainly bases, '*', '<NON_REF>' or '<*>' (then
 * alleleKind on the strings decides, and says why).
 */
function altKinds(buf: Buffer, s: number, e: number): number {
  let count = 0;
  let allGvcf = 1;
  let a = s;
  for (let i = s; i <= e; i++) {
    if (i < e && buf[i] !== 44) continue;
    const n = i - a;
    let bases = n > 0;
    for (let j = a; j < i && bases; j++) bases = BASE[buf[j] as number] === 1;
    if (bases || (n === 1 && buf[a] === 42)) allGvcf = 0;
    else if (!(sameBytes(buf, a, i, NON_REF) || sameBytes(buf, a, i, ANY_ALT))) return -1;
    count++;
    a = i + 1;
  }
  return (count << 1) | allGvcf;
}

function countTabs(buf: Buffer, s: number, e: number): number {
  let n = 0;
  for (let i = s; i < e; i++) if (buf[i] === 9) n++;
  return n;
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** 'bases' and 'gvcf' alleles are represented; anything else is the reason the record is rejected. */
export function alleleKind(alt: string): string {
  let bases = alt.length > 0;
  for (let i = 0; i < alt.length && bases; i++) bases = alt.charCodeAt(i) < 256 && BASE[alt.charCodeAt(i)] === 1;
  if (bases || alt === '*') return 'bases';
  if (alt === '<NON_REF>' || alt === '<*>') return 'gvcf';
  if (alt.startsWith('<') && alt.endsWith('>')) {
    return `symbolic structural allele ${clip(alt)}: its extent (INFO END/SVLEN) has no place in a genotype event, so the record is not published`;
  }
  if (/[[\]]/.test(alt) || (alt.length > 1 && (alt.startsWith('.') || alt.endsWith('.')))) {
    return `breakend allele '${clip(alt)}': structural breakends are not represented in genotype events, so the record is not published`;
  }
  if (alt === '' || alt === '.') return `ALT lists an empty allele ('${clip(alt)}')`;
  for (let i = 0; i < alt.length; i++) if (BASE[alt.charCodeAt(i) & 0xff] !== 1 || alt.charCodeAt(i) > 255) return `ALT allele '${clip(alt)}' is not a sequence of A, C, G, T, N`;
  return 'bases';
}

/** A FORMAT key (VCF 4.3, 1.6.2): a letter or '_', then letters, digits, '_' and '.'. */
export const FORMAT_KEY = /^[A-Za-z_][0-9A-Za-z_.]*$/;

/**
 * The FORMAT column's keys; '.' (no keys) is taken as a record without genotypes. Anything else that
 * is not a list of keys, such as a genotype where FORMAT should be, means the columns are shifted.
 */
function parseFormat(raw: Buffer): Format {
  const text = raw.toString('latin1');
  const keys = text === '.' ? [] : text.split(':');
  for (const key of keys) if (!FORMAT_KEY.test(key)) throw new InvalidInputError(`FORMAT '${clip(text)}' is not a list of FORMAT keys (a missing or extra column?)`);
  // Readers disagree on which of two same keys counts (the first here, the last in @gmod/vcf).
  if (new Set(keys).size !== keys.length) throw new InvalidInputError(`FORMAT '${clip(text)}' names a key twice`);
  const at = (k: string): number => keys.indexOf(k);
  const f = { raw, gt: at('GT'), dp: at('DP'), gq: at('GQ'), ps: at('PS'), max: 0 };
  f.max = Math.max(f.gt, f.dp, f.gq, f.ps);
  return f;
}

/** INFO END= (gVCF reference blocks), undefined when absent or not an integer. */
function infoEnd(buf: Buffer, s: number, e: number): number | undefined {
  const info = buf.toString('latin1', s, e);
  const m = /(?:^|;)END=(\d+)(?:;|$)/.exec(info);
  return m === null ? undefined : Number(m[1]);
}

/**
 * ':DP:GQ' right after GT as plain numbers of at most 9 digits (the usual shape), read in the pass
 * that finds the column end (its tab, or e), which is returned; the numbers go to out. -1 for any
 * other shape: then the general walk reads the column (and says what is wrong).
 */
function plainDpGq(buf: Buffer, from: number, e: number, out: Int32Array): number {
  let q = from;
  if (q >= e || buf[q] !== 58) return -1;
  const dpStart = ++q;
  let dp = 0;
  for (; q < e; q++) {
    const d = (buf[q] as number) - 48;
    if (d < 0 || d > 9) break;
    dp = dp * 10 + d;
  }
  if (q === dpStart || q - dpStart > 9 || q >= e || buf[q] !== 58) return -1;
  const gqStart = ++q;
  let gq = 0;
  for (; q < e; q++) {
    const d = (buf[q] as number) - 48;
    if (d < 0 || d > 9) break;
    gq = gq * 10 + d;
  }
  if (q === gqStart || q - gqStart > 9) return -1;
  if (q < e && buf[q] !== 9) {
    if (buf[q] !== 58) return -1;
    while (q < e && buf[q] !== 9) q++; // later subfields are not needed
  }
  out[0] = dp;
  out[1] = gq;
  return q;
}

function int32Field(buf: Buffer, s: number, e: number, name: string, col: number): number {
  if (s === e || (e - s === 1 && buf[s] === 46)) return INT_NULL;
  let i = s;
  const negative = buf[i] === 45;
  if (negative) i++;
  let v = 0;
  if (i === e) throw new InvalidInputError(`sample column ${col + 1}: ${name} '-' is not an integer`);
  for (; i < e; i++) {
    const d = (buf[i] as number) - 48;
    if (d < 0 || d > 9) throw new InvalidInputError(`sample column ${col + 1}: ${name} '${clip(buf.toString('latin1', s, e))}' is not an integer`);
    v = v * 10 + d;
  }
  if (v > 2147483647) throw new InvalidInputError(`sample column ${col + 1}: ${name} ${buf.toString('latin1', s, e)} is out of range`);
  return negative ? -v : v;
}

function longField(buf: Buffer, s: number, e: number, col: number): number {
  if (s === e || (e - s === 1 && buf[s] === 46)) return NaN;
  const text = buf.toString('latin1', s, e);
  const v = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(v)) throw new InvalidInputError(`sample column ${col + 1}: PS '${clip(text)}' is not an integer`);
  return v;
}
