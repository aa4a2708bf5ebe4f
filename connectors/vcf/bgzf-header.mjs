// @ts-check
/**
 * Whether the 18 bytes at `at` are a BGZF block header: a gzip member with FEXTRA and a 'BC' subfield
 * of length 2. Plain JavaScript, shared by reader.ts and the inflation worker (bgzf-worker.mjs),
 * which loads it without a TypeScript loader.
 * @param {import('node:buffer').Buffer} b
 * @param {number} [at]
 * @returns {boolean}
 */
export function isBgzfHeader(b, at = 0) {
  return (
    b.length - at >= 18 &&
    b[at] === 0x1f &&
    b[at + 1] === 0x8b &&
    b[at + 2] === 8 &&
    ((b[at + 3] ?? 0) & 4) !== 0 &&
    b.readUInt16LE(at + 10) === 6 &&
    b[at + 12] === 0x42 &&
    b[at + 13] === 0x43 &&
    b.readUInt16LE(at + 14) === 2
  );
}
