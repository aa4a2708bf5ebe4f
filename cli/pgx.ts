/**
 * `backbone pgx call FILE.vcf [--format tsv|json] [--candidates] [--genes A,B]`: calls the ten PGx
 * genes for every sample of a VCF (plain or gzip/bgzip, streamed; only PGx positions are kept).
 *
 * TSV: one line per sample and gene — sample, gene, diplotypes (every top-scoring diplotype, best
 * first, joined with " | "; "not called" when none), phenotype, activity_score ("-" when none), and
 * with --candidates every fitting diplotype with its score.
 * JSON: one JSON object per sample per line (JSON Lines) with the calls, missing positions,
 * warnings and the CPIC recommendations for the profile.
 */
import { createReadStream, openSync, readSync, closeSync, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import type { Config } from '../platform/config.ts';
import { InvalidInputError } from '../platform/errors.ts';
import {
  CALLED_GENES,
  callGenes,
  loadKnowledgeBase,
  recommend,
  stateFromCall,
  type GeneCall,
  type KnowledgeBase,
  type Recommendation,
} from '../domain/pgx/index.ts';
import { parseVcfHeader, parseVcfRecord, pgxPositionIndex, siteGenotype, type VcfSiteRecord } from '../domain/pgx/vcf.ts';

const USAGE = 'usage: backbone pgx call FILE.vcf[.gz] [--format tsv|json] [--candidates] [--genes GENE,GENE]';

export interface PgxVcf {
  samples: string[];
  records: VcfSiteRecord[];
  assembly: string | null;
}

function isGzip(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const magic = Buffer.alloc(2);
    const n = readSync(fd, magic, 0, 2, 0);
    return n === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/** Streams a VCF and keeps the records at PGx positions (genotypes for all samples in typed arrays). */
export async function readPgxVcf(path: string, kb: KnowledgeBase): Promise<PgxVcf> {
  if (!existsSync(path)) throw new InvalidInputError(`pgx: no such file ${path}`);
  const raw = createReadStream(path);
  const input: Readable = isGzip(path) ? raw.pipe(createGunzip()) : raw;
  const lines = createInterface({ input, crlfDelay: Infinity });
  const wanted = pgxPositionIndex(kb);
  const meta: string[] = [];
  let samples: string[] | null = null;
  let assembly: string | null = null;
  const records: VcfSiteRecord[] = [];
  let lineNo = 0;
  try {
    for await (const line of lines) {
      lineNo++;
      if (samples === null) {
        if (line.startsWith('#')) {
          meta.push(line);
          if (line.startsWith('#CHROM')) {
            const header = parseVcfHeader(meta);
            samples = header.samples;
            assembly = header.assembly;
          }
          continue;
        }
        throw new InvalidInputError(`${path}: line ${lineNo} is a record before the #CHROM header line`);
      }
      const record = parseVcfRecord(line, samples.length, wanted, lineNo);
      if (record !== null) records.push(record);
    }
  } catch (error) {
    if (error instanceof InvalidInputError) throw error;
    throw new InvalidInputError(`${path}: cannot read (${error instanceof Error ? error.message : String(error)})`, { cause: error });
  }
  if (samples === null) throw new InvalidInputError(`${path}: no #CHROM header line`);
  return { samples, records, assembly };
}

/** Calls one sample from the kept records. */
export function callSample(vcf: PgxVcf, s: number, kb: KnowledgeBase, options: { candidates: boolean; genes: readonly string[] }): GeneCall[] {
  const sites = vcf.records.map((r) => siteGenotype(r, s));
  return callGenes(sites, kb, { candidates: options.candidates, genes: options.genes });
}

export function recommendationsFor(calls: GeneCall[], kb: KnowledgeBase): Recommendation[] {
  const profile = calls.map(stateFromCall);
  return kb.drugs.flatMap((d) => recommend(d.name, profile, kb));
}

const dash = (value: string | null): string => (value === null || value === '' ? '-' : value);

export function tsvHeader(candidates: boolean): string {
  return ['sample', 'gene', 'diplotypes', 'phenotype', 'activity_score', ...(candidates ? ['candidates'] : [])].join('\t');
}

export function tsvLines(sample: string, calls: GeneCall[], candidates: boolean): string {
  return calls
    .map((c) => {
      const cols = [
        sample,
        c.gene,
        c.diplotypes.length === 0 ? 'not called' : c.diplotypes.map((d) => d.name).join(' | '),
        dash(c.phenotype),
        dash(c.activityScore),
      ];
      if (candidates) cols.push(c.candidates.length === 0 ? '-' : c.candidates.map((d) => `${d.name} (${d.score})`).join(' | '));
      return `${cols.join('\t')}\n`;
    })
    .join('');
}

function parseArgs(args: string[]): { file: string; format: 'tsv' | 'json'; candidates: boolean; genes: readonly string[] } {
  const [sub, ...rest] = args;
  if (sub !== 'call') throw new InvalidInputError(USAGE);
  let file: string | undefined;
  let format: 'tsv' | 'json' = 'tsv';
  let candidates = false;
  let genes: readonly string[] = CALLED_GENES;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '--candidates') candidates = true;
    else if (arg === '--format' || arg.startsWith('--format=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : rest[++i];
      if (value !== 'tsv' && value !== 'json') throw new InvalidInputError(`--format must be tsv or json, not ${String(value)}\n${USAGE}`);
      format = value;
    } else if (arg === '--genes' || arg.startsWith('--genes=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : rest[++i];
      const list = (value ?? '').split(',').map((g) => g.trim().toUpperCase()).filter((g) => g !== '');
      const unknown = list.filter((g) => !(CALLED_GENES as readonly string[]).includes(g));
      if (list.length === 0 || unknown.length > 0) throw new InvalidInputError(`--genes: unknown ${unknown.join(', ') || '(empty)'}; called genes are ${CALLED_GENES.join(', ')}`);
      genes = list;
    } else if (arg.startsWith('--')) throw new InvalidInputError(`unknown option ${arg}\n${USAGE}`);
    else if (file === undefined) file = arg;
    else throw new InvalidInputError(`one VCF file at a time\n${USAGE}`);
  }
  if (file === undefined) throw new InvalidInputError(USAGE);
  return { file, format, candidates, genes };
}

async function write(text: string): Promise<void> {
  if (!process.stdout.write(text)) await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
}

export async function pgxCommand(args: string[], _config: Config): Promise<number> {
  const options = parseArgs(args);
  const kb = loadKnowledgeBase();
  const started = performance.now();
  const vcf = await readPgxVcf(options.file, kb);
  if (vcf.assembly !== null && /37|hg19/i.test(vcf.assembly)) {
    throw new InvalidInputError(`${options.file}: header names ${vcf.assembly}; the PGx definitions are GRCh38 — lift the file over first`);
  }
  if (vcf.samples.length === 0) throw new InvalidInputError(`${options.file}: the VCF has no sample columns`);
  if (options.format === 'tsv') await write(`${tsvHeader(options.candidates)}\n`);
  for (let s = 0; s < vcf.samples.length; s++) {
    const sample = vcf.samples[s]!;
    const calls = callSample(vcf, s, kb, options);
    if (options.format === 'tsv') await write(tsvLines(sample, calls, options.candidates));
    else {
      const out = { sample, knowledgeBase: { version: kb.version, source: kb.source }, genes: calls, recommendations: recommendationsFor(calls, kb) };
      await write(`${JSON.stringify(out)}\n`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  console.error(
    `pgx: ${vcf.samples.length} sample(s), ${vcf.records.length} PGx record(s), ${options.genes.length} gene(s) in ${seconds.toFixed(2)} s (knowledge base ${kb.version})`,
  );
  return 0;
}
