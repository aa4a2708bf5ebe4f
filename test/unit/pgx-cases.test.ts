import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { callSample, readPgxVcf } from '../../cli/pgx.ts';
import { CALLED_GENES, loadKnowledgeBase, phenotypeOf } from '../../domain/pgx/index.ts';

const dir = fileURLToPath(new URL('../fixtures/pgx/cases/', import.meta.url));
const kb = loadKnowledgeBase();

interface Case {
  file: string;
  gene: string;
  expected: string[] | 'NOT CALLED';
  phenotype: string | null;
}

const cases: Case[] = readFileSync(`${dir}expected.tsv`, 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((line) => {
    const [file = '', gene = '', , calls = '', phenotype = ''] = line.split('\t');
    return {
      file,
      gene,
      expected: calls === 'NOT CALLED' ? 'NOT CALLED' : calls.split(' | '),
      phenotype: phenotype.startsWith('not called') ? null : phenotype,
    };
  });

describe('PGx case VCFs (expected calls of the reference caller)', () => {
  it('has every case file listed', () => {
    const vcfs = readdirSync(dir).filter((f) => f.endsWith('.vcf')).sort();
    expect(cases.map((c) => c.file).sort()).toEqual(vcfs);
    expect(cases).toHaveLength(14);
  });

  for (const c of cases) {
    it(`${c.file}: ${Array.isArray(c.expected) ? c.expected.join(' | ') : c.expected}`, async () => {
      const vcf = await readPgxVcf(`${dir}${c.file}`, kb);
      expect(vcf.samples).toHaveLength(1);
      const calls = callSample(vcf, 0, kb, { candidates: true, genes: CALLED_GENES });
      const call = calls.find((x) => x.gene === c.gene);
      expect(call).toBeDefined();
      if (c.expected === 'NOT CALLED') {
        expect(call!.status).toBe('not_called');
        expect(call!.diplotypes).toEqual([]);
        expect(call!.phenotype).toBeNull();
        expect(call!.warnings.length).toBeGreaterThan(0);
        return;
      }
      // Every fitting diplotype, best first, as expected; the top-scoring ones are the diplotypes.
      expect(call!.candidates.map((d) => d.name)).toEqual(c.expected);
      const best = call!.candidates[0]!.score;
      expect(call!.diplotypes.map((d) => d.name)).toEqual(call!.candidates.filter((d) => d.score === best).map((d) => d.name));
      expect(call!.status).toBe(call!.diplotypes.length > 1 ? 'ambiguous' : 'called');
      expect(phenotypeOf(c.gene, call!.diplotypes[0]!.name, kb)?.phenotype).toBe(c.phenotype);
      if (call!.diplotypes.length === 1) expect(call!.phenotype).toBe(c.phenotype);
    });
  }
});
