/**
 * The straightforward path: records parsed by @gmod/vcf (`parseLine` + `SAMPLES()`), calls built as
 * objects. Same rules as the byte-level scanner of core.ts, none of its speed; the tests hold the
 * scanner to it on every fixture, and the benchmark measures both. gVCF block projection is not
 * part of it.
 */
import type { GenotypeCall } from '../../platform/events.ts';
import { FLOAT, FORMAT_KEY, alleleKind } from './core.ts';
import { normaliseChrom } from './harmonise.ts';
import { parseHeader } from './header.ts';
import type { PgxPositionIndex } from './pgx-positions.ts';

export interface ReferenceCall {
  column: number;
  call: Omit<GenotypeCall, 'gene'>;
}

export interface ReferenceResult {
  calls: ReferenceCall[];
  /** Line numbers of rejected records. */
  rejectedLines: number[];
  records: number;
}

export function referenceCalls(text: string, pgx?: PgxPositionIndex): ReferenceResult {
  const lines = text.split(/\r?\n/);
  let headerEnd = 0;
  while (headerEnd < lines.length && (lines[headerEnd] ?? '').startsWith('#')) headerEnd++;
  const header = parseHeader(lines.slice(0, headerEnd));
  const keepPgx = pgx !== undefined && header.assembly !== 'GRCh37';
  const out: ReferenceResult = { calls: [], rejectedLines: [], records: 0 };
  for (let i = headerEnd; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line === '') continue;
    out.records++;
    const lineNo = i + 1;
    const columns = line.split('\t');
    let v;
    try {
      if (columns.length < 10) throw new Error('the fixed columns and a sample column are missing');
      if (columns[0] === '' || columns[7] === '') throw new Error('CHROM or INFO is empty');
      v = header.parser.parseLine(line);
    } catch {
      out.rejectedLines.push(lineNo);
      continue;
    }
    const chrom = normaliseChrom(v.CHROM ?? '');
    if (chrom === undefined) continue;
    const alts = v.ALT ?? [];
    const [, posText = '', , refText = '', , qualText = '', filterText = '', , formatText = ''] = columns;
    const formatKeys = formatText === '.' ? [] : formatText.split(':');
    if (
      columns.length !== 9 + header.samples.length ||
      !/^[1-9]\d*$/.test(posText) ||
      !Number.isSafeInteger(Number(posText)) ||
      !/^[ACGTN]+$/i.test(refText) ||
      alts.some((a) => { const k = alleleKind(a); return k !== 'bases' && k !== 'gvcf'; }) ||
      formatKeys.some((k) => !FORMAT_KEY.test(k)) ||
      new Set(formatKeys).size !== formatKeys.length ||
      (qualText !== '.' && (!FLOAT.test(qualText) || !Number.isFinite(Number(qualText)))) ||
      (filterText !== '.' && filterText.split(';').includes(''))
    ) {
      out.rejectedLines.push(lineNo);
      continue;
    }
    if (!formatKeys.includes('GT')) continue;
    const pgxHere = keepPgx && pgx?.chrom(chrom)?.get(v.POS) !== undefined;
    const samples = v.SAMPLES();
    const filters = v.FILTER === undefined ? [] : v.FILTER === 'PASS' ? ['PASS'] : (v.FILTER as string[]);
    const recordCalls: ReferenceCall[] = [];
    let bad = false;
    header.samples.forEach((name, column) => {
      const s = samples[name] ?? {};
      const gt0 = (s.GT as unknown[] | undefined)?.[0];
      const gtText = typeof gt0 === 'string' ? gt0 : '.';
      const body = gtText.replace(/^[|/]/, '');
      const alleles = body.split(/[|/]/).map((a) => (a === '.' ? null : Number(a)));
      // The raw column checks what the typed values of @gmod/vcf let through: an empty column, a GT
      // that is not a genotype; and, in a call that is published, DP/GQ/PS that are not integers.
      const raw = columns[9 + column] ?? '';
      const rawField = (k: string): string => raw.split(':')[formatKeys.indexOf(k)] ?? '';
      const rawGt = rawField('GT');
      if (raw === '' || (rawGt !== '' && !/^[|/]?(?:\.|\d+)(?:[|/](?:\.|\d+))*$/.test(rawGt)) || alleles.length > 255) bad = true;
      if (alleles.some((a) => a !== null && (!Number.isInteger(a) || a > alts.length))) bad = true;
      const hasAlt = alleles.some((a) => a !== null && a > 0);
      if (!hasAlt && !pgxHere) return;
      const num = (k: string): number | null => {
        const text = rawField(k); // '' when FORMAT has no such key
        if (text === '' || text === '.') return null;
        const x = Number(text);
        if (!/^-?\d+$/.test(text) || (k === 'PS' ? !Number.isSafeInteger(x) : Math.abs(x) > 2147483647)) bad = true;
        return x === 0 ? 0 : x; // '-0' is 0
      };
      recordCalls.push({
        column,
        call: {
          chrom,
          pos: v.POS,
          ref: v.REF ?? '',
          alts,
          gt: alleles,
          phased: alleles.length > 1 ? !body.includes('/') : gtText.startsWith('|'),
          phaseSet: num('PS'),
          depth: num('DP'),
          genotypeQuality: num('GQ'),
          quality: v.QUAL ?? null,
          filters,
          variantId: v.ID === undefined || columns[2] === '' ? null : v.ID.join(';'),
          recordRef: String(lineNo),
        },
      });
    });
    if (bad) out.rejectedLines.push(lineNo);
    else out.calls.push(...recordCalls);
  }
  return out;
}
