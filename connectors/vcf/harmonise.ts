/**
 * Harmonisation of what VCF headers and records say about coordinates: chromosome naming
 * ('chr1', '1', 'chrM', 'MT' all become the canonical 1-22, X, Y, MT) and the reference build,
 * detected from the header only. An unknown build is the explicit value UNKNOWN, never a guess.
 */
import type { Assembly } from '../../platform/events.ts';

// Written out as literals, which V8 interns: the scanner compares the chromosome of every record
// with the block's, and a name sliced from the input ('chr10' -> '10') is a different kind of
// string that made the optimised comparison bail out. The map returns the literal.
const CANONICAL = new Map(
  ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '13', '14', '15', '16', '17', '18', '19', '20', '21', '22', 'X', 'Y', 'MT'].map((c) => [c, c]),
);

/**
 * Canonical chromosome name, or undefined for contigs outside 1-22/X/Y/MT (alts, decoys, unplaced,
 * HLA, EBV...). 'chr' prefixes in any case and 'M' are accepted; numbers are not zero-padded.
 */
export function normaliseChrom(name: string): string | undefined {
  let n = name;
  if (n.length > 3 && (n.charCodeAt(0) | 32) === 99 && (n.charCodeAt(1) | 32) === 104 && (n.charCodeAt(2) | 32) === 114) n = n.slice(3);
  if (n === 'M' || n === 'm' || n === 'mt' || n === 'Mt') return 'MT';
  if (n === 'x') return 'X';
  if (n === 'y') return 'Y';
  return CANONICAL.get(n);
}

/** Lengths that differ between the builds for chr1 and a few others (GRCh37 vs GRCh38 primary assembly). */
const LENGTHS: Record<string, { GRCh37: number; GRCh38: number }> = {
  '1': { GRCh37: 249250621, GRCh38: 248956422 },
  '2': { GRCh37: 243199373, GRCh38: 242193529 },
  '3': { GRCh37: 198022430, GRCh38: 198295559 },
  '7': { GRCh37: 159138663, GRCh38: 159345973 },
  '10': { GRCh37: 135534747, GRCh38: 133797422 },
  '19': { GRCh37: 59128983, GRCh38: 58617616 },
  '22': { GRCh37: 51304566, GRCh38: 50818468 },
  X: { GRCh37: 155270560, GRCh38: 156040895 },
};

export interface AssemblyDetection {
  assembly: Assembly;
  /** What decided it (or why it stayed UNKNOWN), for the summary and the docs. */
  evidence: string;
}

/** Maps a build name as headers write it (hg19, GRCh38.p14, b37, hs37d5, NCBI36...) to an assembly. */
export function assemblyFromName(text: string): Assembly | 'OTHER' | undefined {
  const t = text.toLowerCase();
  if (/grch38|hg38|hs38|\bb38\b|gca_000001405\.(1[5-9]|2\d)/.test(t)) return 'GRCh38';
  if (/grch37|hg19|hs37|\bb37\b|human_g1k_v37|gca_000001405\.([1-9]|1[0-4])\b/.test(t)) return 'GRCh37';
  if (/ncbi36|hg18|ncbi35|hg17|t2t|chm13|hs1\b/.test(t)) return 'OTHER';
  return undefined;
}

export interface HeaderFacts {
  /** ##reference value, when present. */
  reference?: string;
  /** ##assembly value, when present. */
  assembly?: string;
  contigs: { id: string; length?: number; assembly?: string }[];
}

/**
 * The build from the header: ##contig lengths are the strongest evidence (they are what the caller
 * used), then ##contig assembly=, ##assembly and ##reference names. Contradicting evidence, or a
 * build other than GRCh37/GRCh38, gives UNKNOWN with the reason.
 */
export function detectAssembly(facts: HeaderFacts): AssemblyDetection {
  const votes = new Map<string, string[]>();
  const vote = (a: Assembly | 'OTHER' | undefined, why: string): void => {
    if (a === undefined) return;
    votes.set(a, [...(votes.get(a) ?? []), why]);
  };
  for (const c of facts.contigs) {
    const chrom = normaliseChrom(c.id);
    const known = chrom === undefined ? undefined : LENGTHS[chrom];
    if (known !== undefined && c.length !== undefined) {
      if (c.length === known.GRCh37) vote('GRCh37', `##contig ${c.id} length ${c.length}`);
      else if (c.length === known.GRCh38) vote('GRCh38', `##contig ${c.id} length ${c.length}`);
      else vote('OTHER', `##contig ${c.id} length ${c.length} is neither GRCh37 nor GRCh38`);
    }
    if (c.assembly !== undefined) vote(assemblyFromName(c.assembly), `##contig ${c.id} assembly=${c.assembly}`);
  }
  if (facts.assembly !== undefined) vote(assemblyFromName(facts.assembly), `##assembly=${facts.assembly}`);
  if (facts.reference !== undefined) vote(assemblyFromName(facts.reference), `##reference=${facts.reference}`);
  const decided = [...votes.keys()];
  if (decided.length === 0) return { assembly: 'UNKNOWN', evidence: 'the header names no build (no ##reference, ##assembly or known ##contig lengths)' };
  if (decided.length > 1) {
    const why = decided.map((a) => `${a} (${(votes.get(a) ?? [])[0]})`).join(' vs ');
    return { assembly: 'UNKNOWN', evidence: `the header contradicts itself: ${why}` };
  }
  const [only] = decided as [string];
  const why = (votes.get(only) ?? []).slice(0, 2).join('; ');
  if (only === 'OTHER') return { assembly: 'UNKNOWN', evidence: `build other than GRCh37/GRCh38: ${why}` };
  return { assembly: only as Assembly, evidence: why };
}
