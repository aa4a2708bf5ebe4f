// AssemblyScript (compiled to WebAssembly by scripts/build-wasm.mjs; not part of the TypeScript build).
//
// The VCF scanner's fast path for the usual record: on the current contig, FORMAT unchanged with GT
// first, every sample's GT a diploid or haploid call of one-character alleles, DP, GQ and PS of kept
// calls plain numbers or missing, not at a PGx position. Such records are checked and
// their kept calls encoded here, byte for byte as VcfParser.record() would (a variant-block site
// each, see core.ts); any other record stops the scan at its line, and record() reads it. The checks
// accept a subset of what record() accepts, so a record this leaves is never lost: record() takes it
// or says what is wrong with it.
//
// Why WebAssembly: V8 optimises the JavaScript scanner only after it has run unoptimised over the
// first ~10,000 records, which costs about as long as the optimised scan of the whole 1-sample
// benchmark file. WebAssembly is compiled before it first runs.
//
// The caller (core.ts, WasmScan) owns the memory layout: the state block at address STATE holds the
// inputs and outputs below, as 32-bit integers, and the addresses of the other regions.

const STATE: u32 = 1024;

// State fields (index of a 32-bit integer at STATE).
const LINE: u32 = 0; // in/out: number of the last line read
const BLOCK_LINES: u32 = 1; // in/out: lines in the current block
const BLOCK_LINES_LIMIT: u32 = 2;
const CALL_ROOM: u32 = 3; // in/out: calls the block may still take before it is full
const SITE_ROOM: u32 = 4; // in: site bytes the block may still take before it is full
const SITES: u32 = 5; // out: sites written
const NON_REF: u32 = 6; // out: calls written (all are non-reference)
const UNMAPPED: u32 = 7; // out: non-reference calls of unmapped samples
const SAMPLES: u32 = 8;
const CHROM_AT: u32 = 9;
const CHROM_LEN: u32 = 10;
const FORMAT_AT: u32 = 11;
const FORMAT_LEN: u32 = 12;
const DP_INDEX: u32 = 13; // DP's place in FORMAT (GT is 0), -1 without DP
const FILTER_AT: u32 = 14; // the last FILTER other than PASS and '.' record() accepted
const FILTER_LEN: u32 = 15;
const FILTER_ENC_AT: u32 = 16; // ... and its encoding
const FILTER_ENC_LEN: u32 = 17;
const PGX_AT: u32 = 18; // sorted PGx positions of the contig (32-bit)
const PGX_COUNT: u32 = 19;
const MAPPED_AT: u32 = 20; // a byte per sample: 1 when mapped to a patient
const USED_AT: u32 = 21; // per sample, 32-bit: the last GEN in which it had a call
const NEW_USED_AT: u32 = 22; // the samples with calls in this scan, each once (32-bit each)
const NEW_USED: u32 = 23; // out: how many
const OUT_AT: u32 = 24; // the sites written
const OUT_LEN: u32 = 25; // out
const OUT_CAP: u32 = 26;
const CALLS_AT: u32 = 27; // the current record's calls (room for 40 bytes per sample)
const RECORD_COLS_AT: u32 = 28; // the current record's sample columns with calls (32-bit each)
const GEN: u32 = 29; // a number of this scan, different from the last one's
const GQ_INDEX: u32 = 30; // GQ's place in FORMAT, -1 without GQ
const PS_INDEX: u32 = 31; // PS's place in FORMAT, -1 without PS

@inline function field(k: u32): i32 {
  return load<i32>(STATE + (k << 2));
}
@inline function setField(k: u32, v: i32): void {
  store<i32>(STATE + (k << 2), v);
}
@inline function byte(p: u32): u32 {
  return load<u8>(p);
}

/** A byte of REF or ALT bases: A C G T N, either case. */
@inline function isBase(c: u32): bool {
  const u = c & 0xdf; // upper case
  return u == 65 || u == 67 || u == 71 || u == 84 || u == 78;
}

/** Avro long (zigzag varint) of 0 <= n < 2^31. */
@inline function writeVarint(at: u32, n: u32): u32 {
  let z = n << 1;
  while (z > 0x7f) {
    store<u8>(at++, (z & 0x7f) | 0x80);
    z >>>= 7;
  }
  store<u8>(at++, z);
  return at;
}

/** The first c in [p, end), or end: 16 bytes at a time (SIMD), then byte by byte. */
@inline function findByte(p: u32, end: u32, c: u8): u32 {
  const needle = i8x16.splat(c);
  while (p + 16 <= end) {
    const mask = i8x16.bitmask(i8x16.eq(v128.load(p), needle));
    if (mask != 0) return p + ctz(mask);
    p += 16;
  }
  while (p < end && load<u8>(p) != c) p++;
  return p;
}

function sameBytes(s: u32, ref: u32, n: u32): bool {
  for (let i: u32 = 0; i < n; i++) if (load<u8>(s + i) != load<u8>(ref + i)) return false;
  return true;
}

function isPgxPosition(pos: i32): bool {
  let lo = 0;
  let hi = field(PGX_COUNT) - 1;
  const at = <u32>field(PGX_AT);
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = load<i32>(at + (<u32>mid << 2));
    if (v == pos) return true;
    if (v < pos) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** A GT allele character: 0-9, -1 for '.', -2 for anything else. */
@inline function allele(c: u32): i32 {
  if (c - 48 <= 9) return <i32>(c - 48);
  return c == 46 ? -1 : -2;
}

/** 10^k as an exact double, k <= 15. */
function pow10(k: i32): f64 {
  let p: f64 = 1;
  for (let i = 0; i < k; i++) p *= 10;
  return p;
}

// Set by callFields(): the call's DP, GQ and PS, -1 when missing.
let dpValue: i32 = -1;
let gqValue: i32 = -1;
let psValue: i32 = -1;

/**
 * A DP, GQ or PS subfield buf[s, f) as VcfParser's int32Field and longField read it: -1 when empty
 * or '.', the number for 1 to 9 digits; -2 (record() must read it) for anything else.
 */
function intField(s: u32, f: u32): i32 {
  if (f == s || (f == s + 1 && byte(s) == 46)) return -1;
  if (f - s > 9) return -2;
  let v: i32 = 0;
  for (let i = s; i < f; i++) {
    const d = byte(i) - 48;
    if (d > 9) return -2;
    v = v * 10 + <i32>d;
  }
  return v;
}

/**
 * The subfields after a kept call's GT, from `from` (':', or the column's end): DP, GQ and PS where
 * FORMAT places them (as the subfield walk of VcfParser.scanSamples reads them). Returns the
 * column's end (its tab, or e), or -1 when record() must read the column.
 */
function callFields(from: u32, e: u32, dpIndex: i32, gqIndex: i32, psIndex: i32): i32 {
  dpValue = -1;
  gqValue = -1;
  psValue = -1;
  if (from >= e || byte(from) != 58) return <i32>from;
  let k: i32 = 1;
  let start = from + 1;
  let f = start;
  for (; ; f++) {
    const c = f < e ? byte(f) : 9;
    if (c != 58 && c != 9) continue;
    if (k == dpIndex) {
      dpValue = intField(start, f);
      if (dpValue < -1) return -1;
    } else if (k == gqIndex) {
      gqValue = intField(start, f);
      if (gqValue < -1) return -1;
    } else if (k == psIndex) {
      psValue = intField(start, f);
      if (psValue < -1) return -1;
    }
    if (c == 9) break;
    k++;
    start = f + 1;
  }
  return <i32>f;
}

/** One GT allele, as writeGenotype writes it: null for '.', else present and its index. */
@inline function writeAllele(at: u32, a: i32): u32 {
  if (a < 0) store<u8>(at++, 0);
  else {
    store<u8>(at++, 2);
    store<u8>(at++, <u8>(a << 1));
  }
  return at;
}

/** PS, DP and GQ of a call, as writeGenotype writes them: null, or present and the value. */
@inline function writeCallFields(at: u32): u32 {
  if (psValue < 0) store<u8>(at++, 0);
  else {
    store<u8>(at++, 2);
    at = writeVarint(at, <u32>psValue);
  }
  if (dpValue < 0) store<u8>(at++, 0);
  else {
    store<u8>(at++, 2);
    at = writeVarint(at, <u32>dpValue);
  }
  if (gqValue < 0) store<u8>(at++, 0);
  else {
    store<u8>(at++, 2);
    at = writeVarint(at, <u32>gqValue);
  }
  return at;
}

/**
 * One record, buf[s, e), line number `line`: true when it was taken (its calls, if any, appended to
 * the sites at `out`), false when record() must read it.
 */
function record(s: u32, e: u32, line: u32): bool {
  // CHROM: the current contig's
  let i = s + <u32>field(CHROM_LEN);
  if (i >= e || byte(i) != 9 || !sameBytes(s, <u32>field(CHROM_AT), <u32>field(CHROM_LEN))) return false;
  // POS: 1 to 9 digits, no leading zero
  const p0 = ++i;
  let pos: u32 = 0;
  for (; i < e && byte(i) != 9; i++) {
    const d = byte(i) - 48;
    if (d > 9) return false;
    pos = pos * 10 + d;
  }
  if (i == p0 || i - p0 > 9 || byte(p0) == 48 || i >= e) return false;
  if (isPgxPosition(<i32>pos)) return false;
  // ID: '.' or empty is missing; otherwise ASCII
  const id0 = ++i;
  let ascii = true;
  for (; i < e && byte(i) != 9; i++) if (byte(i) > 127) ascii = false;
  if (i >= e || !ascii) return false;
  const id1 = i;
  const noId = id1 == id0 || (id1 == id0 + 1 && byte(id0) == 46);
  // REF: bases
  const r0 = ++i;
  while (i < e && isBase(byte(i))) i++;
  if (i == r0 || i >= e || byte(i) != 9) return false;
  const r1 = i;
  // ALT: '.' or alleles of bases or '*'
  const a0 = ++i;
  let nAlts: i32 = 0;
  let allele0 = a0;
  for (;; i++) {
    const c = i < e ? byte(i) : 9;
    if (c == 9 || c == 44) {
      const n = i - allele0;
      if (n == 0) return false;
      if (n == 1 && byte(allele0) == 42) {
        // '*'
      } else {
        for (let j = allele0; j < i; j++) if (!isBase(byte(j))) return false;
      }
      nAlts++;
      allele0 = i + 1;
      if (c == 9) break;
    } else if (!isBase(c) && c != 42) {
      if (!(c == 46 && i == a0 && i + 1 < e && byte(i + 1) == 9)) return false;
      // '.': no ALT allele
      i++;
      nAlts = 0;
      break;
    }
  }
  if (i >= e) return false;
  const a1 = i;
  // QUAL: '.' or a plain decimal
  const q0 = ++i;
  for (; i < e && byte(i) != 9; i++);
  if (i >= e) return false;
  const q1 = i;
  let qual: f64 = -1;
  if (!(q1 == q0 + 1 && byte(q0) == 46)) {
    let m: u64 = 0;
    let digits = 0;
    let dot: i32 = -1;
    for (let j = q0; j < q1; j++) {
      const c = byte(j);
      if (c - 48 <= 9) {
        m = m * 10 + <u64>(c - 48);
        digits++;
      } else if (c == 46 && dot < 0) dot = <i32>j;
      else return false;
    }
    if (digits == 0 || digits > 15) return false;
    qual = dot < 0 ? <f64>m : <f64>m / pow10(<i32>q1 - dot - 1);
  }
  // FILTER: PASS, '.' or the last other FILTER record() accepted
  const f0 = ++i;
  for (; i < e && byte(i) != 9; i++);
  if (i >= e) return false;
  const fl = i - f0;
  let filter = 0; // 1 PASS, 2 '.', 3 the cached one
  if (fl == 4 && byte(f0) == 80 && byte(f0 + 1) == 65 && byte(f0 + 2) == 83 && byte(f0 + 3) == 83) filter = 1;
  else if (fl == 1 && byte(f0) == 46) filter = 2;
  else if (fl == <u32>field(FILTER_LEN) && sameBytes(f0, <u32>field(FILTER_AT), fl)) filter = 3;
  else return false;
  // INFO: not empty (annotated files have kilobytes of it: searched 16 bytes at a time)
  const n0 = ++i;
  i = findByte(i, e, 9);
  if (i == n0 || i >= e) return false;
  // FORMAT: the current one, then a tab
  const formatLen = <u32>field(FORMAT_LEN);
  const t8 = i + 1 + formatLen;
  if (t8 >= e || byte(t8) != 9 || !sameBytes(i + 1, <u32>field(FORMAT_AT), formatLen)) return false;

  // The samples (as VcfParser.scanSamples' first checks)
  const n = <u32>field(SAMPLES);
  const dpIndex = field(DP_INDEX);
  const gqIndex = field(GQ_INDEX);
  const psIndex = field(PS_INDEX);
  const mapped = <u32>field(MAPPED_AT);
  const callsAt = <u32>field(CALLS_AT);
  const colsAt = <u32>field(RECORD_COLS_AT);
  let callsEnd = callsAt;
  let calls: u32 = 0;
  let unmapped: i32 = 0;
  let q = t8 + 1;
  for (let col: u32 = 0; col < n; col++) {
    if (q >= e) return false;
    const b0 = byte(q);
    const b1 = q + 1 < e ? byte(q + 1) : 9;
    // GT: two alleles ('0/1', '1|1', './.') or, haploid (chrX and chrY of males, MT), one; each 0-9 or '.'.
    let ploidy: u32 = 2;
    let x = allele(b0);
    let y: i32 = -1;
    let gtEnd = q + 3;
    if ((b1 == 47 || b1 == 124) && q + 2 < e) {
      const b3 = q + 3 < e ? byte(q + 3) : 9;
      y = allele(byte(q + 2));
      if (!((b3 == 58 || b3 == 9) && x >= -1 && y >= -1 && x <= nAlts && y <= nAlts)) return false;
    } else if (q + 1 >= e || b1 == 58 || b1 == 9) {
      ploidy = 1;
      gtEnd = q + 1;
      if (x < -1 || x > nAlts) return false;
    } else return false;
    if (x > 0 || y > 0) {
      if (load<u8>(mapped + col) == 0) unmapped++;
      else {
        const end = callFields(gtEnd, e, dpIndex, gqIndex, psIndex);
        if (end < 0) return false;
        // The call, as VcfParser.appendBlockDiploid and appendBlockCall write it.
        let at = writeVarint(callsEnd, col);
        store<u8>(at++, <u8>(ploidy << 1)); // gt: its items
        at = writeAllele(at, x);
        if (ploidy == 2) at = writeAllele(at, y);
        store<u8>(at++, 0); // end of gt
        store<u8>(at++, ploidy == 2 && b1 == 124 ? 1 : 0); // phased (a haploid call only with a leading '|', left to record())
        callsEnd = writeCallFields(at);
        store<u32>(colsAt + (calls << 2), col);
        calls++;
        q = <u32>end + 1;
        continue;
      }
    }
    q = gtEnd;
    while (q < e && byte(q) != 9) q++;
    q++;
  }
  if (q <= e) return false;

  if (calls > 0) {
    // The site, as record() writes it: pos, ref, alts, quality, filters, variantId, recordRef, calls.
    const out = <u32>field(OUT_AT);
    const start = out + <u32>field(OUT_LEN);
    let at = writeVarint(start, pos);
    at = writeVarint(at, r1 - r0);
    memory.copy(at, r0, r1 - r0);
    at += r1 - r0;
    if (nAlts == 0) store<u8>(at++, 0);
    else {
      at = writeVarint(at, <u32>nAlts);
      let b = a0;
      for (let j = a0; j <= a1; j++) {
        if (j == a1 || byte(j) == 44) {
          at = writeVarint(at, j - b);
          memory.copy(at, b, j - b);
          at += j - b;
          b = j + 1;
        }
      }
      store<u8>(at++, 0);
    }
    if (qual < 0) store<u8>(at++, 0);
    else {
      store<u8>(at++, 2);
      store<f64>(at, qual);
      at += 8;
    }
    if (filter == 1) {
      store<u8>(at++, 2);
      store<u8>(at++, 8);
      store<u32>(at, 0x53534150); // 'PASS'
      at += 4;
      store<u8>(at++, 0);
    } else if (filter == 2) store<u8>(at++, 0);
    else {
      const len = <u32>field(FILTER_ENC_LEN);
      memory.copy(at, <u32>field(FILTER_ENC_AT), len);
      at += len;
    }
    if (noId) store<u8>(at++, 0);
    else {
      store<u8>(at++, 2);
      at = writeVarint(at, id1 - id0);
      memory.copy(at, id0, id1 - id0);
      at += id1 - id0;
    }
    // recordRef: the line number's digits, as a string
    let digits: u32 = 1;
    for (let x = line; x >= 10; x /= 10) digits++;
    store<u8>(at++, <u8>(digits << 1));
    for (let j = digits, x = line; j > 0; j--, x /= 10) store<u8>(at + j - 1, <u8>(48 + (x % 10)));
    at += digits;
    at = writeVarint(at, calls);
    memory.copy(at, callsAt, callsEnd - callsAt);
    at += callsEnd - callsAt;
    store<u8>(at++, 0);
    setField(OUT_LEN, <i32>(at - out));
    setField(SITES, field(SITES) + 1);
    setField(NON_REF, field(NON_REF) + <i32>calls);
    setField(CALL_ROOM, field(CALL_ROOM) - <i32>calls);
    const used = <u32>field(USED_AT);
    const newUsed = <u32>field(NEW_USED_AT);
    const gen = <u32>field(GEN);
    for (let k: u32 = 0; k < calls; k++) {
      const col = load<u32>(colsAt + (k << 2));
      if (load<u32>(used + (col << 2)) != gen) {
        store<u32>(used + (col << 2), gen);
        const m = <u32>field(NEW_USED);
        store<u32>(newUsed + (m << 2), col);
        setField(NEW_USED, <i32>m + 1);
      }
    }
  }
  setField(UNMAPPED, field(UNMAPPED) + unmapped);
  return true;
}

/**
 * Takes the complete lines of buf[p, end) while they are usual records that fit in the current block
 * (see record()); returns where it stopped: the start of a line record() must read, or of the last,
 * incomplete line, or end.
 */
export function scan(p: u32, end: u32): u32 {
  const sampleCount = <u32>field(SAMPLES);
  const outCap = <u32>field(OUT_CAP);
  while (p < end) {
    // The block limits, as record() checks them before each record.
    if (field(BLOCK_LINES) >= field(BLOCK_LINES_LIMIT) || field(CALL_ROOM) <= 0 || field(OUT_LEN) >= field(SITE_ROOM)) break;
    const nl = findByte(p, end, 10);
    if (nl >= end) break;
    const e = nl > p && byte(nl - 1) == 13 ? nl - 1 : nl;
    if (e == p) break;
    // Room for the largest site this line could add: the line itself plus 40 bytes per sample.
    if (<u32>field(OUT_LEN) + (e - p) + 40 * sampleCount + 64 > outCap) break;
    const line = <u32>field(LINE) + 1;
    if (line >= 1000000000 || !record(p, e, line)) break;
    setField(LINE, <i32>line);
    setField(BLOCK_LINES, field(BLOCK_LINES) + 1);
    p = nl + 1;
  }
  return p;
}
