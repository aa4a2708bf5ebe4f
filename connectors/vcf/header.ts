/**
 * The VCF header, read with @gmod/vcf: version, samples, contigs and the reference build. A file
 * that is not a VCF, or a version we do not read, is refused here with one clear error, before any
 * event is published.
 */
import VCF from '@gmod/vcf';
import { InvalidInputError } from '../../platform/errors.ts';
import type { Assembly } from '../../platform/events.ts';
import { detectAssembly, type HeaderFacts } from './harmonise.ts';

export const SUPPORTED_VERSIONS = ['4.1', '4.2', '4.3', '4.4'] as const;

export interface VcfHeader {
  /** e.g. '4.2'. */
  version: string;
  samples: string[];
  assembly: Assembly;
  assemblyEvidence: string;
  /** The parser for record semantics (used by the reference path and for diagnostics). */
  parser: VCF;
  /** Header lines, for reference. */
  lineCount: number;
}

const MANDATORY = ['#CHROM', 'POS', 'ID', 'REF', 'ALT', 'QUAL', 'FILTER', 'INFO'];

/** The first bytes tell a VCF from other files; the message says what the file looks like instead. */
export function checkSignature(first: Buffer): void {
  const text = first.subarray(0, 64).toString('latin1');
  if (text.startsWith('##fileformat=VCF')) return;
  if (text.startsWith('BCF')) throw new InvalidInputError('this is a BCF (binary VCF) file; convert it with `bcftools view -Ov` and send the VCF');
  if (text.startsWith('#CHROM')) throw new InvalidInputError('not a VCF: the first line must be ##fileformat=VCFv4.x, but the file starts with the #CHROM line');
  const printable = /^[\x20-\x7e\r\n\t]*$/.test(text);
  const shown = printable ? `'${text.split(/\r?\n/)[0]?.slice(0, 40)}'` : 'binary data';
  throw new InvalidInputError(`not a VCF: a VCF starts with '##fileformat=VCFv4.x', this file starts with ${shown}`);
}

export function parseHeader(lines: string[]): VcfHeader {
  const first = lines[0] ?? '';
  const version = /^##fileformat=VCFv(\d+\.\d+)\s*$/.exec(first)?.[1];
  if (version === undefined) throw new InvalidInputError(`line 1: expected ##fileformat=VCFv4.x, found '${first.slice(0, 60)}'`);
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(version)) {
    throw new InvalidInputError(`VCFv${version} is not supported; this connector reads VCF ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  const columnsLine = lines[lines.length - 1] ?? '';
  if (!columnsLine.startsWith('#CHROM')) {
    throw new InvalidInputError(`line ${lines.length + 1}: the header must end with the #CHROM column line before the first record`);
  }
  const columns = columnsLine.split('\t');
  for (const [i, name] of MANDATORY.entries()) {
    if (columns[i] !== name) {
      throw new InvalidInputError(`line ${lines.length}: column ${i + 1} of the #CHROM line must be ${name}, found '${columns[i] ?? ''}' (columns are tab-separated)`);
    }
  }
  if (columns.length > 8 && columns[8] !== 'FORMAT') throw new InvalidInputError(`line ${lines.length}: column 9 of the #CHROM line must be FORMAT, found '${columns[8] ?? ''}'`);
  let parser: VCF;
  try {
    parser = new VCF({ header: lines.join('\n') });
  } catch (error) {
    throw new InvalidInputError(`malformed VCF header: ${(error as Error).message.split('\n')[0] ?? ''}`, { cause: error });
  }
  const samples = parser.samples;
  if (samples.length === 0) throw new InvalidInputError('the VCF has no sample columns (a sites-only VCF): there are no genotypes to publish');
  const seen = new Set<string>();
  for (const [i, s] of samples.entries()) {
    if (seen.has(s)) throw new InvalidInputError(`sample column ${i + 1} repeats a sample name; sample names must be unique`);
    seen.add(s);
  }
  const meta = parser.getMetadata() as Record<string, unknown>;
  const contigMeta = (meta.contig ?? {}) as Record<string, Record<string, unknown>>;
  const facts: HeaderFacts = {
    contigs: Object.entries(contigMeta).map(([id, c]) => ({
      id,
      ...(c.length === undefined ? {} : { length: Number(c.length) }),
      ...(typeof c.assembly === 'string' ? { assembly: c.assembly } : {}),
    })),
    ...(typeof meta.reference === 'string' ? { reference: meta.reference } : {}),
    ...(typeof meta.assembly === 'string' ? { assembly: meta.assembly } : {}),
  };
  const detection = detectAssembly(facts);
  return { version, samples, assembly: detection.assembly, assemblyEvidence: detection.evidence, parser, lineCount: lines.length };
}
