import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { pgxCommand, readPgxVcf } from '../../cli/pgx.ts';
import type { Config } from '../../platform/config.ts';
import { InvalidInputError } from '../../platform/errors.ts';
import { loadKnowledgeBase, parseVcfHeader, parseVcfRecord, pgxPositionIndex, siteGenotype } from '../../domain/pgx/index.ts';

const kb = loadKnowledgeBase();
const dir = mkdtempSync(join(tmpdir(), 'pgx-vcf-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Three samples at the CYP2C19 *2 and *17 positions (GRCh38): A = *1/*2, B = *17/*17, C = no data at rs4244285.
const cyp2c19 = kb.genes.CYP2C19!;
const header = ['##fileformat=VCFv4.2', '##reference=GRCh38', '#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\tC'];
const genotypes: Record<string, [string, string, string]> = {
  rs12248560: ['0/0', '1/1', '0/0'],
  rs12769205: ['0/1', '0/0', '0/0'],
  rs4244285: ['1/0', '0/0', './.'],
  rs3758581: ['1/1', '1/1', '1/1'],
};
const body = cyp2c19.positions.map(([pos, rsid, ref, alts]) => {
  const gts = genotypes[rsid ?? ''] ?? ['0/0', '0/0', '0/0'];
  return `chr10\t${pos}\t${rsid ?? '.'}\t${ref}\t${alts.join(',')}\t.\tPASS\t.\tGT:DP\t${gts.map((g) => `${g}:30`).join('\t')}`;
});
const text = [...header, 'chr10\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t0/0\t1/1', ...body, ''].join('\n');
writeFileSync(join(dir, 'three.vcf'), text);
writeFileSync(join(dir, 'three.vcf.gz'), gzipSync(text));

async function run(args: string[]): Promise<{ code: number; out: string }> {
  const chunks: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    const code = await pgxCommand(args, {} as Config);
    return { code, out: chunks.join('') };
  } finally {
    write.mockRestore();
    error.mockRestore();
  }
}

describe('VCF reading', () => {
  it('parses the header and keeps only PGx records, with per-sample genotypes', () => {
    expect(parseVcfHeader(header)).toEqual({ samples: ['A', 'B', 'C'], assembly: 'GRCh38' });
    const wanted = pgxPositionIndex(kb);
    expect(parseVcfRecord('chr10\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1', 1, wanted)).toBeNull();
    const record = parseVcfRecord('chr10\t94781859\trs4244285\tG\tA\t.\tPASS\t.\tGT:PS\t0|1:5\t./.:.\t1', 3, wanted)!;
    expect(siteGenotype(record, 0)).toEqual({ chrom: '10', pos: 94781859, ref: 'G', alts: ['A'], gt: [0, 1], phased: true, phaseSet: 5 });
    expect(siteGenotype(record, 1).gt).toEqual([null, null]);
    expect(siteGenotype(record, 2).gt).toEqual([1]);
    expect(() => parseVcfRecord('chr10\tabc\t.\tA\tG', 0, wanted, 7)).toThrow(/line 7: POS "abc"/);
    expect(() => parseVcfHeader(['##fileformat=VCFv4.2'])).toThrow(InvalidInputError);
  });

  it('reads plain and gzip files alike', async () => {
    const plain = await readPgxVcf(join(dir, 'three.vcf'), kb);
    const gz = await readPgxVcf(join(dir, 'three.vcf.gz'), kb);
    expect(plain.samples).toEqual(['A', 'B', 'C']);
    expect(plain.records).toHaveLength(cyp2c19.positions.length);
    expect(gz.records.map((r) => [r.pos, [...r.a1], [...r.a2]])).toEqual(plain.records.map((r) => [r.pos, [...r.a1], [...r.a2]]));
  });
});

describe('backbone pgx call', () => {
  it('writes one TSV line per sample and gene', async () => {
    const { code, out } = await run(['call', join(dir, 'three.vcf.gz'), '--genes', 'CYP2C19,TPMT']);
    expect(code).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines[0]).toBe('sample\tgene\tdiplotypes\tphenotype\tactivity_score');
    expect(lines).toHaveLength(1 + 3 * 2);
    expect(lines[1]).toBe('A\tCYP2C19\t*1/*2\tIntermediate Metabolizer\t-');
    expect(lines[3]).toBe('B\tCYP2C19\t*17/*17\tUltrarapid Metabolizer\t-');
    // TPMT positions are not in the file: not called.
    expect(lines[2]).toBe('A\tTPMT\tnot called\t-\t-');
  });

  it('adds candidates with --candidates, and JSON carries missing positions, warnings and recommendations', async () => {
    const tsv = await run(['call', join(dir, 'three.vcf'), '--candidates', '--genes=CYP2C19']);
    expect(tsv.out.split('\n')[0]).toBe('sample\tgene\tdiplotypes\tphenotype\tactivity_score\tcandidates');
    expect(tsv.out.split('\n')[1]).toMatch(/^A\tCYP2C19\t\*1\/\*2\tIntermediate Metabolizer\t-\t\*1\/\*2 \(\d+\)/);
    const json = await run(['call', join(dir, 'three.vcf'), '--format', 'json']);
    const docs = json.out.trim().split('\n').map((l) => JSON.parse(l) as { sample: string; genes: { gene: string; missingPositions: string[]; warnings: string[] }[]; recommendations: { drug: string; population: string | null }[] });
    expect(docs.map((d) => d.sample)).toEqual(['A', 'B', 'C']);
    const c = docs[2]!.genes.find((g) => g.gene === 'CYP2C19')!;
    expect(c.missingPositions).toEqual(['rs4244285 (10:94781859)']);
    expect(c.warnings.length).toBeGreaterThan(0);
    expect(docs[0]!.recommendations.filter((r) => r.drug === 'clopidogrel').map((r) => r.population).sort()).toEqual(['CVI ACS PCI', 'CVI non-ACS non-PCI', 'NVI']);
  });

  it('refuses bad usage and missing files with a clear error', async () => {
    await expect(run(['call'])).rejects.toThrow(/usage: backbone pgx call/);
    await expect(run(['call', join(dir, 'nope.vcf')])).rejects.toThrow(/no such file/);
    await expect(run(['call', join(dir, 'three.vcf'), '--format', 'xml'])).rejects.toThrow(/--format must be tsv or json/);
    await expect(run(['call', join(dir, 'three.vcf'), '--genes', 'CYP2D6'])).rejects.toThrow(/--genes: unknown CYP2D6/);
  });
});
