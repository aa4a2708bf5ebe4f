/**
 * Converts the PGx defining positions (a hom-ref VCF template listing every position the PGx caller
 * reads) into domain/pgx/data/positions.json, the committed list the VCF connector uses to keep
 * hom-ref and no-call genotypes at those positions.
 *
 *   node --import tsx connectors/vcf/convert-positions.ts pharmcat_positions.vcf [domain/pgx/data/positions.json]
 *
 * Source: PharmCAT 3.1.1 (data version 2025-11-05), CPIC content, CC0. Coordinates are GRCh38, 1-based.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { normaliseChrom } from './harmonise.ts';
import type { PgxPositionsFile, PgxPosition } from './pgx-positions.ts';

export const SOURCE = {
  source: 'PharmCAT 3.1.1 (data version 2025-11-05), CPIC content, CC0',
  release: 'PharmCAT 3.1.1',
  dataVersion: '2025-11-05',
  license: 'CC0-1.0 (CPIC content); PharmCAT distribution MPL-2.0',
} as const;

export function convertPositions(vcfText: string): PgxPositionsFile {
  const positions: PgxPosition[] = [];
  for (const [index, line] of vcfText.split(/\r?\n/).entries()) {
    if (line === '' || line.startsWith('#')) continue;
    const [chrom = '', pos = '', id = '', ref = '', alt = '', , , info = ''] = line.split('\t');
    const canonical = normaliseChrom(chrom);
    const position = Number(pos);
    if (canonical === undefined || !Number.isSafeInteger(position) || !/^[ACGTN]+$/.test(ref)) {
      throw new Error(`line ${index + 1}: not a PGx position record: ${line.slice(0, 120)}`);
    }
    const gene = /(?:^|;)PX=([^;]+)/.exec(info)?.[1] ?? null;
    positions.push({
      chrom: canonical,
      pos: position,
      ref,
      alts: alt === '.' ? [] : alt.split(','),
      rsid: id === '.' ? null : id,
      gene,
      positionOfInterestOnly: /(?:^|;)POI(?:;|$)/.test(info),
    });
  }
  return { ...SOURCE, assembly: 'GRCh38', count: positions.length, positions };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [input, output = fileURLToPath(new URL('../../domain/pgx/data/positions.json', import.meta.url))] = process.argv.slice(2);
  if (input === undefined) throw new Error('usage: convert-positions.ts pharmcat_positions.vcf [positions.json]');
  const converted = convertPositions(readFileSync(input, 'utf8'));
  // One position per line: reviewable diffs when the data version changes.
  const { positions, ...meta } = converted;
  const head = JSON.stringify(meta, null, 2).replace(/\n}$/, ',\n  "positions": [\n');
  writeFileSync(output, `${head}${positions.map((p) => `    ${JSON.stringify(p)}`).join(',\n')}\n  ]\n}\n`);
  console.error(`${output}: ${converted.count} positions`);
}
