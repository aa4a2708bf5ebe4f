/**
 * Pure core of the VCF connector: bytes of a VCF in, Avro-encoded GenotypeCallSet events and
 * rejected records out. No I/O here; the runner reads, publishes and dead-letters.
 *
 * - The header is read with @gmod/vcf (header.ts). Records are scanned at the byte level: tabs are
 *   found with Buffer.indexOf, GT is decoded in place, and a hom-ref genotype costs a few byte
 *   comparisons. Calls are gathered per block in typed arrays and encoded per sample and block.
 * - Published: every call carrying an ALT allele, and every call (hom-ref and no-call too) at a PGx
 *   defining position, so the PGx caller can tell "reference" from "not tested".
 * - Events: one per sample and block. A block is a run of at most BLOCK_LINES consecutive records of
 *   one chromosome (fewer when it reaches BLOCK_CALLS calls). Event id = hash of file sha256, sample
 *   column and the block's first line: the same file always gives the same ids.
 * - A record that cannot be represented losslessly is rejected with its line number and the reason;
 *   the rest of the file goes on. Records on contigs outside 1-22/X/Y/MT are skipped and counted.
 */
import { createHash } from 'node:crypto';
import { InvalidInputError } from '../../platform/errors.ts';
import type { Assembly } from '../../platform/events.ts';
import { MAX_LONG_BYTES, lineageBytes, sampleHead, siteSuffix, sitePrefix, writeLong, writeString } from './avro.ts';
import { normaliseChrom } from './harmonise.ts';
import { checkSignature, parseHeader, type VcfHeader } from './header.ts';
import type { PgxPosition, PgxPositionIndex } from './pgx-positions.ts';
import { resolveSamples, type ResolvedSamples, type SampleMapping } from './samples.ts';

export const CONNECTOR = 'vcf';
/** Block limits: part of the event-id scheme (changing them changes the ids of a re-sent file). */
export const BLOCK_LINES = 4096;
export const BLOCK_CALLS = 1_000_000;
/** A longer line is refused as not a VCF line (memory stays bounded). */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

export interface FileFacts {
  sha256: string;
  sourceId: string;
  lab: string | null;
  ingestedAt: number;
  pipelineVersion: string;
}

export interface EncodedEvent {
  /** Kafka key: the patient id. */
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
  rejected: number;
  /** Records skipped because their contig is not 1-22/X/Y/MT, by contig name. */
  skippedContigs: Map<string, number>;
  /** Records whose FORMAT has no GT (nothing to publish). */
  recordsWithoutGenotypes: number;
  /** Calls of unmapped samples that would have been published. */
  unmappedCalls: number;
  pgx: { active: boolean; reason: string; covered: number; total: number };
}

export interface VcfParserOptions {
  facts: FileFacts;
  mapping: SampleMapping;
  /** The PGx defining positions (GRCh38); without them only non-reference calls are kept. */
  pgx?: PgxPositionIndex;
  /** Confluent wire header (magic byte and schema id) put before each body; empty for dry runs. */
  wireHeader?: Buffer;
  blockLines?: number;
  blockCalls?: number;
}

const INT_NULL = -2147483648;
const PASS = ['PASS'] as const;
const EMPTY: readonly string[] = [];

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

/** Growable typed arrays holding a block's calls. */
class CallTable {
  size = 0;
  sample = new Int32Array(1024);
  record = new Int32Array(1024);
  alleleStart = new Int32Array(1024);
  ploidy = new Uint8Array(1024);
  phased = new Uint8Array(1024);
  depth = new Int32Array(1024);
  gq = new Int32Array(1024);
  ps = new Float64Array(1024);
  alleles = new Int32Array(4096);
  alleleCount = 0;

  reserve(calls: number, alleles: number): void {
    if (this.size + calls > this.sample.length) {
      const n = Math.max(this.sample.length * 2, this.size + calls);
      const grow = <T extends Int32Array | Uint8Array | Float64Array>(a: T, make: (n: number) => T): T => {
        const b = make(n);
        b.set(a);
        return b;
      };
      this.sample = grow(this.sample, (k) => new Int32Array(k));
      this.record = grow(this.record, (k) => new Int32Array(k));
      this.alleleStart = grow(this.alleleStart, (k) => new Int32Array(k));
      this.ploidy = grow(this.ploidy, (k) => new Uint8Array(k));
      this.phased = grow(this.phased, (k) => new Uint8Array(k));
      this.depth = grow(this.depth, (k) => new Int32Array(k));
      this.gq = grow(this.gq, (k) => new Int32Array(k));
      this.ps = grow(this.ps, (k) => new Float64Array(k));
    }
    if (this.alleleCount + alleles > this.alleles.length) {
      const b = new Int32Array(Math.max(this.alleles.length * 2, this.alleleCount + alleles));
      b.set(this.alleles);
      this.alleles = b;
    }
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
  /** Index of the site in the block (created on the first kept call), -1 before. */
  index: number;
  chrom: string;
  pos: number;
  /** REF as a string when known (projections); otherwise read from refBuf[refStart, refEnd). */
  ref: string;
  refBuf: Buffer;
  refStart: number;
  refEnd: number;
  alts: readonly string[];
  qual: number | null;
  filters: readonly string[];
  id: string | null;
  /** recordRef when it is not just the line number. */
  recordRef: string;
}

function newSite(): Site {
  return {
    line: 0, nAlts: 0, keepAll: false, refOnly: false, index: -1, chrom: '', pos: 0, ref: '', refBuf: Buffer.alloc(0),
    refStart: 0, refEnd: 0, alts: [], qual: null, filters: [], id: null, recordRef: '',
  };
}

export class VcfParser {
  readonly stats: VcfStats;
  header: VcfHeader | undefined;
  resolved: ResolvedSamples | undefined;

  private readonly wire: Buffer;
  private readonly blockLinesLimit: number;
  private readonly blockCallsLimit: number;
  private readonly lineage: Buffer;
  private carry: Buffer | undefined;
  private signatureChecked = false;
  /** The first bytes of the file, until there are enough to tell a VCF. */
  private head = Buffer.alloc(0);
  private headerLines: string[] = [];
  private totalBytes = 0;
  private lineNo = 0;

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

  // Current FORMAT.
  private format: Format | undefined;

  // Current block.
  private blockChrom: string | undefined;
  private blockFirstLine = 0;
  private blockLines = 0;
  private readonly calls = new CallTable();
  private readonly site = newSite();
  private readonly mark = { calls: 0, alleles: 0, sites: 0 };
  private prefixes: Buffer[] = [];
  /** Bytes of the site part of each site in the block. */
  private siteBytes = new Int32Array(1024);
  /** Upper bound of the encoded calls of each sample in the block. */
  private sampleBytes = new Float64Array(0);
  private suffixes: Buffer[] = [];

  private events: EncodedEvent[] = [];
  private rejected: RejectedRecord[] = [];

  constructor(private readonly options: VcfParserOptions) {
    this.wire = options.wireHeader ?? Buffer.alloc(0);
    this.blockLinesLimit = options.blockLines ?? BLOCK_LINES;
    this.blockCallsLimit = options.blockCalls ?? BLOCK_CALLS;
    const f = options.facts;
    this.lineage = lineageBytes({
      sourceId: f.sourceId,
      sourceSha256: f.sha256,
      lab: f.lab,
      ingestedAt: f.ingestedAt,
      connector: CONNECTOR,
      pipelineVersion: f.pipelineVersion,
    });
    this.stats = {
      lines: 0,
      records: 0,
      calls: 0,
      nonRefCalls: 0,
      events: 0,
      rejected: 0,
      skippedContigs: new Map(),
      recordsWithoutGenotypes: 0,
      unmappedCalls: 0,
      pgx: { active: false, reason: 'no PGx positions given', covered: 0, total: options.pgx?.size ?? 0 },
    };
  }

  /** Feeds the next bytes of the (decompressed) file. Throws InvalidInputError for file-level problems. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
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
    try {
      this.record(buf, s, e, line);
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      // Undo what the record added to the block (marked after any block flush it caused).
      this.calls.size = this.mark.calls;
      this.calls.alleleCount = this.mark.alleles;
      this.prefixes.length = this.mark.sites;
      this.suffixes.length = this.mark.sites;
      this.stats.rejected++;
      const end = Math.min(e, s + 1048576);
      this.rejected.push({ line, error: new InvalidInputError(`line ${line}: ${error.message}`), bytes: Buffer.from(buf.subarray(s, end)) });
    }
  }

  private startData(): void {
    if (this.header !== undefined) return;
    const header = parseHeader(this.headerLines);
    this.headerLines = [];
    this.header = header;
    this.nSamples = header.samples.length;
    this.sampleBytes = new Float64Array(this.nSamples);
    this.resolved = resolveSamples(header.samples, this.options.mapping, this.options.facts.sha256);
    this.heads = this.resolved.columns.map((m) => (m === undefined ? undefined : sampleHead(m.patientId, m.sampleId, 'VCF', header.assembly)));
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
    this.mark.calls = this.calls.size;
    this.mark.alleles = this.calls.alleleCount;
    this.mark.sites = this.prefixes.length;
    if (buf[s] === 35) throw new InvalidInputError('a header line (#) after the first record');
    const t0 = tab(buf, s, e);
    if (t0 < 0) throw new InvalidInputError('expected tab-separated columns, found none');
    // CHROM (the previous record's contig is compared byte-wise first)
    const clen = t0 - s;
    if (clen !== this.chromRaw.length || buf.compare(this.chromRaw, 0, clen, s, t0) !== 0) {
      this.chromRaw = Buffer.from(buf.subarray(s, t0));
      this.chromName = this.chromRaw.toString('utf8');
      this.chrom = normaliseChrom(this.chromName);
      this.pgxChrom = this.pgxActive && this.chrom !== undefined ? this.options.pgx?.chrom(this.chrom) : undefined;
    }
    const chrom = this.chrom;
    if (chrom === undefined) {
      const skipped = this.stats.skippedContigs;
      skipped.set(this.chromName, (skipped.get(this.chromName) ?? 0) + 1);
      return;
    }
    if (chrom !== this.blockChrom || this.blockLines >= this.blockLinesLimit || this.calls.size >= this.blockCallsLimit) {
      this.flush();
      this.blockChrom = chrom;
      this.blockFirstLine = line;
    }
    this.blockLines++;
    this.mark.calls = this.calls.size;
    this.mark.alleles = this.calls.alleleCount;
    this.mark.sites = this.prefixes.length;

    const t1 = tab(buf, t0 + 1, e);
    const t2 = t1 < 0 ? -1 : tab(buf, t1 + 1, e);
    const t3 = t2 < 0 ? -1 : tab(buf, t2 + 1, e);
    const t4 = t3 < 0 ? -1 : tab(buf, t3 + 1, e);
    const t5 = t4 < 0 ? -1 : tab(buf, t4 + 1, e);
    const t6 = t5 < 0 ? -1 : tab(buf, t5 + 1, e);
    const t7 = t6 < 0 ? -1 : tab(buf, t6 + 1, e);
    const t8 = t7 < 0 ? -1 : tab(buf, t7 + 1, e);
    if (t8 < 0) {
      throw new InvalidInputError(`expected ${9 + this.nSamples} tab-separated columns (9 + ${this.nSamples} samples), found ${countTabs(buf, s, e) + 1}`);
    }
    // POS
    let pos = 0;
    for (let i = t0 + 1; i < t1; i++) {
      const d = (buf[i] as number) - 48;
      if (d < 0 || d > 9) throw new InvalidInputError(`POS '${buf.toString('latin1', t0 + 1, t1)}' is not a position`);
      pos = pos * 10 + d;
    }
    if (t1 === t0 + 1 || pos < 1 || !Number.isSafeInteger(pos)) {
      throw new InvalidInputError(`POS '${buf.toString('latin1', t0 + 1, t1)}' is not a 1-based position (POS 0, a telomere, cannot be represented)`);
    }
    // REF
    if (t3 === t2 + 1) throw new InvalidInputError('REF is empty');
    for (let i = t2 + 1; i < t3; i++) {
      if (BASE[buf[i] as number] !== 1) throw new InvalidInputError(`REF '${clip(buf.toString('utf8', t2 + 1, t3))}' is not a sequence of A, C, G, T, N`);
    }
    // ALT
    let alts: readonly string[];
    let refBlock = false;
    if (t4 === t3 + 2 && buf[t3 + 1] === 46) alts = [];
    else {
      alts = buf.toString('utf8', t3 + 1, t4).split(',');
      let gvcf = 0;
      for (const alt of alts) {
        const kind = alleleKind(alt);
        if (kind === 'gvcf') gvcf++;
        else if (kind !== 'bases') throw new InvalidInputError(kind);
      }
      refBlock = gvcf === alts.length;
    }
    // FORMAT (cached while it stays the same)
    let fmt = this.format;
    if (fmt === undefined || fmt.raw.length !== t8 - t7 - 1 || buf.compare(fmt.raw, 0, fmt.raw.length, t7 + 1, t8) !== 0) {
      fmt = parseFormat(Buffer.from(buf.subarray(t7 + 1, t8)));
      this.format = fmt;
    }
    // QUAL, FILTER, ID
    let qual: number | null = null;
    if (!(t5 === t4 + 2 && buf[t4 + 1] === 46)) {
      const text = buf.toString('latin1', t4 + 1, t5);
      qual = Number(text);
      if (text === '' || !Number.isFinite(qual)) throw new InvalidInputError(`QUAL '${clip(text)}' is not a number`);
    }
    let filters: readonly string[] = EMPTY;
    if (!(t6 === t5 + 2 && buf[t5 + 1] === 46)) {
      const text = buf.toString('utf8', t5 + 1, t6);
      filters = text === 'PASS' ? PASS : text.split(';');
      if (filters.includes('')) throw new InvalidInputError(`FILTER '${clip(text)}' has an empty filter name`);
    }
    const id = t2 === t1 + 2 && buf[t1 + 1] === 46 ? null : buf.toString('utf8', t1 + 1, t2);
    if (fmt.gt < 0) {
      this.stats.recordsWithoutGenotypes++;
      return;
    }
    const pgxHere = this.pgxChrom?.get(pos) !== undefined;
    if (pgxHere) this.pgxSeen.add(`${chrom}:${pos}`);
    const site = this.site;
    site.line = line;
    site.nAlts = alts.length;
    site.keepAll = pgxHere;
    site.refOnly = false;
    site.index = -1;
    site.chrom = chrom;
    site.pos = pos;
    site.ref = '';
    site.refBuf = buf;
    site.refStart = t2 + 1;
    site.refEnd = t3;
    site.alts = alts;
    site.qual = qual;
    site.filters = filters;
    site.id = id;
    site.recordRef = '';
    this.scanSamples(buf, t8 + 1, e, fmt, site);

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
        site.index = -1;
        site.pos = p.pos;
        site.ref = p.ref;
        site.alts = EMPTY;
        site.id = null;
        site.recordRef = `${line} (reference block ${pos}-${end})`;
        this.scanSamples(buf, t8 + 1, e, fmt, site);
      }
    }
  }

  /** Encodes the site part of the calls once, when the first call at the site is kept. */
  private makeSite(site: Site): number {
    const ref = site.ref !== '' ? site.ref : site.refBuf.toString('latin1', site.refStart, site.refEnd);
    const prefix = sitePrefix(site.chrom, site.pos, ref, site.alts);
    const suffix = siteSuffix(site.qual, site.filters, site.id, null, site.recordRef !== '' ? site.recordRef : String(site.line));
    const index = this.prefixes.push(prefix) - 1;
    this.suffixes.push(suffix);
    if (index >= this.siteBytes.length) {
      const grown = new Int32Array(this.siteBytes.length * 2);
      grown.set(this.siteBytes);
      this.siteBytes = grown;
    }
    this.siteBytes[index] = prefix.length + suffix.length + 32;
    return index;
  }

  /** Walks the sample columns of one record, keeping the calls the site asks for. */
  private scanSamples(buf: Buffer, start: number, e: number, fmt: Format, site: Site): void {
    const n = this.nSamples;
    const calls = this.calls;
    const heads = this.heads;
    const nAlts = site.nAlts;
    const fast = fmt.gt === 0 && !site.keepAll;
    calls.reserve(n, 0);
    let p = start;
    for (let col = 0; col < n; col++) {
      if (p > e) throw new InvalidInputError(`found ${col} sample columns, the header names ${n}`);
      const fs = p;
      if (fast && buf[p] === 48) {
        // '0/0', '0|0' or haploid '0', followed by ':' or the end of the column: hom-ref, skipped.
        const b1 = buf[p + 1];
        let skip = 0;
        if (b1 === 47 || b1 === 124) {
          if (buf[p + 2] === 48) {
            const b3 = p + 3 >= e ? 9 : buf[p + 3];
            if (b3 === 58 || b3 === 9) skip = 3;
          }
        } else if (p + 1 >= e || b1 === 58 || b1 === 9) skip = 1;
        if (skip > 0) {
          p += skip;
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
      let fe = fs;
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
      // GT, decoded in place.
      const aStart = calls.alleleCount;
      calls.reserve(0, 8);
      let ploidy = 0;
      let hasAlt = false;
      let allPhased = true;
      let leadingPhase = 0;
      if (gtS < 0 || gtS === gtE) {
        calls.alleles[calls.alleleCount++] = -1; // GT dropped from the column: missing
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
          if (ploidy === 8) calls.reserve(0, 8);
          calls.alleles[calls.alleleCount++] = allele;
          ploidy++;
          if (a >= gtE) break;
          const sep = buf[a];
          if (sep === 47) allPhased = false;
          else if (sep !== 124) throw new InvalidInputError(`sample column ${col + 1}: GT '${clip(buf.toString('latin1', gtS, gtE))}' is not a genotype`);
          a++;
          if (ploidy >= 255) throw new InvalidInputError(`sample column ${col + 1}: GT has more than 255 alleles`);
          calls.reserve(0, 1);
        }
      }
      const keep = site.refOnly ? !hasAlt : hasAlt || site.keepAll;
      const head = heads[col];
      if (!keep || head === undefined) {
        if (keep) this.stats.unmappedCalls++;
        calls.alleleCount = aStart;
        continue;
      }
      if (site.index < 0) site.index = this.makeSite(site);
      const i = calls.size++;
      calls.sample[i] = col;
      calls.record[i] = site.index;
      calls.alleleStart[i] = aStart;
      calls.ploidy[i] = ploidy;
      calls.phased[i] = (ploidy > 1 ? allPhased : leadingPhase === 1) ? 1 : 0;
      calls.depth[i] = dpS < 0 ? INT_NULL : int32Field(buf, dpS, dpE, 'DP', col);
      calls.gq[i] = gqS < 0 ? INT_NULL : int32Field(buf, gqS, gqE, 'GQ', col);
      calls.ps[i] = psS < 0 ? NaN : longField(buf, psS, psE, col);
      this.sampleBytes[col] = (this.sampleBytes[col] as number) + (this.siteBytes[site.index] as number) + 6 * ploidy;
      if (hasAlt) this.stats.nonRefCalls++;
    }
    if (p <= e) throw new InvalidInputError(`more sample columns than the ${n} the header names`);
  }

  /** Encodes the block: one event per sample with calls, in column order. */
  private flush(): void {
    const calls = this.calls;
    const total = calls.size;
    if (total > 0) {
      const n = this.nSamples;
      const counts = new Int32Array(n + 1);
      for (let i = 0; i < total; i++) {
        const c = (calls.sample[i] as number) + 1;
        counts[c] = (counts[c] as number) + 1;
      }
      for (let c = 0; c < n; c++) counts[c + 1] = (counts[c + 1] as number) + (counts[c] as number);
      const starts = counts.slice(0, n);
      const order = new Int32Array(total);
      for (let i = 0; i < total; i++) {
        const c = calls.sample[i] as number;
        order[(counts[c] as number)++] = i;
      }
      const mapped = this.resolved?.columns ?? [];
      for (let col = 0; col < n; col++) {
        const from = starts[col] as number;
        const to = counts[col] as number;
        if (to === from) continue;
        const head = this.heads[col] as Buffer;
        const patient = mapped[col]?.patientId as string;
        this.events.push(this.encodeEvent(col, patient, head, order, from, to));
        this.stats.events++;
        this.stats.calls += to - from;
      }
    }
    calls.size = 0;
    calls.alleleCount = 0;
    this.sampleBytes.fill(0);
    this.prefixes = [];
    this.suffixes = [];
    this.blockLines = 0;
    this.blockChrom = undefined;
  }

  private encodeEvent(col: number, patientId: string, head: Buffer, order: Int32Array, from: number, to: number): EncodedEvent {
    const c = this.calls;
    const eventId = createHash('sha256').update(`${this.options.facts.sha256}:${col}:${this.blockFirstLine}`).digest('hex').slice(0, 32);
    const size = this.wire.length + 34 + head.length + MAX_LONG_BYTES + 1 + this.lineage.length + (this.sampleBytes[col] as number);
    const out = Buffer.allocUnsafe(size);
    let pos = put(out, 0, this.wire);
    pos = writeString(out, pos, eventId);
    pos = put(out, pos, head);
    pos = writeLong(out, pos, to - from);
    for (let j = from; j < to; j++) {
      const i = order[j] as number;
      const r = c.record[i] as number;
      pos = put(out, pos, this.prefixes[r] as Buffer);
      const ploidy = c.ploidy[i] as number;
      pos = writeLong(out, pos, ploidy);
      const a0 = c.alleleStart[i] as number;
      for (let k = 0; k < ploidy; k++) {
        const allele = c.alleles[a0 + k] as number;
        if (allele < 0) out[pos++] = 0;
        else {
          out[pos++] = 2;
          pos = writeLong(out, pos, allele);
        }
      }
      out[pos++] = 0; // end of the gt array
      out[pos++] = c.phased[i] as number;
      const ps = c.ps[i] as number;
      if (Number.isNaN(ps)) out[pos++] = 0;
      else {
        out[pos++] = 2;
        pos = writeLong(out, pos, ps);
      }
      const dp = c.depth[i] as number;
      if (dp === INT_NULL) out[pos++] = 0;
      else {
        out[pos++] = 2;
        pos = writeLong(out, pos, dp);
      }
      const gq = c.gq[i] as number;
      if (gq === INT_NULL) out[pos++] = 0;
      else {
        out[pos++] = 2;
        pos = writeLong(out, pos, gq);
      }
      pos = put(out, pos, this.suffixes[r] as Buffer);
    }
    out[pos++] = 0; // end of the calls array
    pos = put(out, pos, this.lineage);
    return { key: patientId, eventId, value: out.subarray(0, pos), calls: to - from };
  }
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

function tab(buf: Buffer, from: number, e: number): number {
  const i = buf.indexOf(9, from);
  return i >= 0 && i < e ? i : -1;
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

function parseFormat(raw: Buffer): Format {
  const keys = raw.toString('latin1').split(':');
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
