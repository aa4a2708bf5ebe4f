/**
 * Builds the PGx knowledge base (domain/pgx/kb/pgx-kb.json) from PharmCAT's published data files:
 *
 *   node --import tsx scripts/build-pgx-kb.ts DATA_DIR [--out FILE]
 *
 * DATA_DIR holds `definition/<GENE>_translation.json`, `definition/exemptions.json`,
 * `phenotype/<GENE>.json` and `guidelines/CPIC_<drug>_and_<genes>.json` (PharmCAT 3.1.1, data
 * version 2025-11-05; recommendation records 2024-03-25). The output is deterministic: the same
 * input always gives the same bytes, so a rebuild shows up in review only when a fact changed.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  KB_FORMAT,
  type KbAllele,
  type KbCondition,
  type KbDrug,
  type KbGene,
  type KbPhenotypeTable,
  type KbPosition,
  type KbRecommendation,
  type KnowledgeBase,
} from '../domain/pgx/kb.ts';

const GENES = ['CYP2C19', 'CYP2C9', 'CYP3A5', 'CYP4F2', 'DPYD', 'NUDT15', 'SLCO1B1', 'TPMT', 'UGT1A1', 'VKORC1'];
/** Genes whose unknown ALTs are read as reference (CPIC/PharmCAT rule; CACNA1S, G6PD, RYR1 are not called here). */
const NOVEL_ALT_AS_REFERENCE = new Set(['DPYD', 'NUDT15', 'TPMT']);
const LOWEST_FUNCTION = new Set(['DPYD']);
const SOURCE = 'PharmCAT 3.1.1, data version 2025-11-05 (CPIC content, CC0; recommendation records 2024-03-25)';
const DATA_VERSION = '2025-11-05';

/** Public RxNorm ingredient codes (RXCUI); the recommendation records carry none. */
const RXNORM: Record<string, string[]> = {
  clopidogrel: ['32968'],
  warfarin: ['11289'],
  simvastatin: ['36567'],
  fluorouracil: ['4492'],
  capecitabine: ['194000'],
  azathioprine: ['1256'],
  mercaptopurine: ['103'],
  thioguanine: ['10485'],
};

/** Drug names recognised in recommendation text as concrete alternatives. */
const ALTERNATIVE_DRUGS = ['prasugrel', 'ticagrelor', 'rosuvastatin', 'pravastatin', 'pitavastatin', 'fluvastatin', 'atorvastatin', 'lovastatin'];

// --- input shapes (only the fields we read) ---------------------------------------------------

interface DefVariant { position: number; rsid: string | null; ref: string; alts: string[]; chromosome: string }
interface DefAllele { name: string; alleles: (string | null)[]; reference: boolean }
interface Definition {
  gene: string;
  version: string;
  chromosome: string;
  genomeBuild: string;
  variants: DefVariant[];
  namedAlleles: DefAllele[];
  suballelesMap: Record<string, string>;
}
interface Exemption { extraPositions?: DefVariant[]; ignoredAlleles?: string[]; ignoredPositions?: DefVariant[] }
interface PhenotypeFile {
  version: string;
  haplotypes: Record<string, string>;
  activityValues: Record<string, string>;
  diplotypes: { diplotypekey: Record<string, number>; phenotype: string; activityScore: string | null }[];
  namedAlleles: { name: string; activityValue: string | null; functionValue: string | null }[];
}
interface GuidelineRecord {
  id: string;
  population: string;
  classification: { term: string };
  text: { html: string };
  implications: string[];
  lookupKey: Record<string, string>;
  dosingInformation: boolean;
  alternateDrugAvailable: boolean;
  otherPrescribingGuidance: boolean;
}
interface GuidelineFile {
  guideline: { name: string; url: string; relatedChemicals: { name: string }[]; relatedGenes: { symbol: string }[] };
  recommendations: GuidelineRecord[];
  citations: { pmid: string; title: string; year: number }[];
  version: string;
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

const stripChr = (chrom: string): string => chrom.replace(/^chr/i, '');
const position = (v: DefVariant): KbPosition => [v.position, v.rsid, v.ref, [...v.alts]];

// --- genes --------------------------------------------------------------------------------------

function buildGene(dir: string, gene: string, exemptions: Record<string, Exemption>): KbGene {
  const def = readJson<Definition>(join(dir, 'definition', `${gene}_translation.json`));
  const ex = exemptions[gene] ?? {};
  const ignoredPositions = new Set((ex.ignoredPositions ?? []).map((v) => v.position));
  const ignoredAlleles = new Set(ex.ignoredAlleles ?? []);
  const keep = def.variants.map((v) => !ignoredPositions.has(v.position));
  const reference = def.namedAlleles.find((a) => a.reference);
  if (reference === undefined || def.namedAlleles[0] !== reference) throw new Error(`${gene}: the reference allele must come first`);
  const alleles: KbAllele[] = def.namedAlleles
    .filter((a) => !ignoredAlleles.has(a.name))
    .map((a) => [a.name, a.alleles.filter((_, i) => keep[i])]);
  for (const [name, cells] of alleles) {
    if (cells.length !== keep.filter(Boolean).length) throw new Error(`${gene} ${name}: ${cells.length} cells`);
  }
  const phenotypes = gene === 'CYP4F2' ? null : buildPhenotypes(dir, gene, def.suballelesMap);
  return {
    gene,
    chrom: stripChr(def.chromosome),
    build: def.genomeBuild,
    definitionVersion: def.version,
    referenceAllele: reference.name,
    lowestFunction: LOWEST_FUNCTION.has(gene),
    novelAltAsReference: NOVEL_ALT_AS_REFERENCE.has(gene),
    positions: def.variants.filter((_, i) => keep[i]).map(position),
    alleles,
    extraPositions: (ex.extraPositions ?? []).map(position),
    phenotypes,
    fallback:
      gene === 'SLCO1B1'
        ? {
            pos: 21178615,
            rsid: 'rs4149056',
            // CPIC 2022 statin guideline: with rs4149056 (c.521T>C) alone, TT/TC/CC → normal/decreased/poor function.
            genotypes: { 'T/T': 'Normal Function', 'T/C': 'Decreased Function', 'C/C': 'Poor Function' },
            source: 'CPIC guideline for SLCO1B1, ABCG2, CYP2C9 and statins (2022), rs4149056-only phenotype',
          }
        : null,
  };
}

function buildPhenotypes(dir: string, gene: string, suballeles: Record<string, string>): KbPhenotypeTable {
  const file = readJson<PhenotypeFile>(join(dir, 'phenotype', `${gene}.json`));
  const alleles = file.namedAlleles.map((a) => a.name);
  const index = new Map(alleles.map((name, i) => [name, i]));
  const terms: string[] = [];
  const termIndex = new Map<string, number>();
  const rows: KbPhenotypeTable['rows'] = [];
  for (const row of file.diplotypes) {
    const names = Object.entries(row.diplotypekey).flatMap(([name, count]) => Array<string>(count).fill(name));
    const [a, b] = names;
    if (names.length !== 2 || a === undefined || b === undefined) throw new Error(`${gene}: diplotype key ${JSON.stringify(row.diplotypekey)}`);
    const ia = index.get(a);
    const ib = index.get(b);
    if (ia === undefined || ib === undefined) throw new Error(`${gene}: unknown allele in ${a}/${b}`);
    let t = termIndex.get(row.phenotype);
    if (t === undefined) {
      t = terms.length;
      terms.push(row.phenotype);
      termIndex.set(row.phenotype, t);
    }
    const activity = row.activityScore === null || row.activityScore === 'n/a' ? null : row.activityScore;
    rows.push([Math.min(ia, ib), Math.max(ia, ib), t, activity]);
  }
  rows.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const functions: Record<string, string> = {};
  const activity: Record<string, string> = {};
  for (const a of file.namedAlleles) {
    if (a.functionValue !== null) functions[a.name] = a.functionValue;
    if (a.activityValue !== null) activity[a.name] = a.activityValue;
  }
  const aliases: Record<string, string> = {};
  for (const [sub, main] of Object.entries(suballeles)) if (index.has(main)) aliases[sub] = main;
  return { alleles, functions, activity, terms, rows, aliases };
}

// --- recommendations ----------------------------------------------------------------------------

function decodeEntities(text: string): string {
  return text
    .replace(/&gt;/g, '>')
    .replace(/&lt;/g, '<')
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&');
}

function htmlToText(html: string): string {
  return decodeEntities(
    html
      .replace(/<\/(p|li|h\d)>/g, '\n')
      .replace(/<[^>]+>/g, '')
      .split('\n')
      .map((line) => line.replace(/\s+/g, ' ').trim())
      .filter((line) => line !== '')
      .join('\n'),
  );
}

function splitRecommendation(html: string): { recommendation: string; considerations: string | null } {
  const [main = '', rest] = html.split(/<h4[^>]*>\s*Other Considerations\s*<\/h4>/i);
  const considerations = rest === undefined ? '' : htmlToText(rest);
  return { recommendation: htmlToText(main), considerations: considerations === '' ? null : considerations };
}

function alternativesIn(text: string, alternateDrugAvailable: boolean): string[] {
  if (!alternateDrugAvailable) return [];
  const lower = text.toLowerCase();
  const named = ALTERNATIVE_DRUGS.filter((d) => lower.includes(d));
  if (named.length > 0) return named;
  const phrase = /\b(alternative [a-z0-9\- ]+?)(?= at | depending| if |[.,;(])/i.exec(text);
  return phrase?.[1] === undefined ? [] : [phrase[1]];
}

function conditionsOf(lookup: Record<string, string>): KbCondition[] {
  return Object.entries(lookup)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([gene, value]): KbCondition => {
      if (value === 'No Result') return { gene, kind: 'noResult', values: [] };
      if (/^[≥<>]?\d+(\.\d+)?$/.test(value)) return { gene, kind: 'activity', values: [value] };
      return { gene, kind: 'phenotype', values: [value] };
    });
}

function buildDrug(dir: string, file: string): KbDrug {
  const g = readJson<GuidelineFile>(join(dir, 'guidelines', file));
  const chem = g.guideline.relatedChemicals[0]?.name;
  if (chem === undefined) throw new Error(`${file}: no drug`);
  const latest = [...g.citations].sort((a, b) => b.year - a.year)[0];
  const recommendations = g.recommendations
    .map((r): KbRecommendation => {
      const { recommendation, considerations } = splitRecommendation(r.text.html);
      const classification = r.classification.term;
      return {
        id: r.id,
        population: r.population === 'general' ? null : r.population,
        conditions: conditionsOf(r.lookupKey),
        lookup: Object.fromEntries(Object.entries(r.lookupKey).sort(([a], [b]) => a.localeCompare(b))),
        classification,
        recommendation,
        considerations,
        implications: r.implications.map(decodeEntities),
        alternatives: alternativesIn(recommendation, r.alternateDrugAvailable),
        actionable: classification.toLowerCase() !== 'no recommendation' && (r.alternateDrugAvailable || r.dosingInformation),
        curated: false,
      };
    })
    .sort((a, b) => (a.population ?? '').localeCompare(b.population ?? '') || a.id.localeCompare(b.id));
  return {
    name: chem,
    rxnorm: RXNORM[chem] ?? [],
    genes: g.guideline.relatedGenes.map((x) => x.symbol).sort(),
    guideline: {
      name: latest?.title ?? g.guideline.name,
      url: g.guideline.url,
      pmids: g.citations.map((c) => c.pmid),
      recordsVersion: g.version,
    },
    recommendations,
  };
}

/**
 * The warfarin records hold no recommendation rows (CPIC expresses warfarin dosing as an algorithm,
 * not a phenotype lookup). These few records summarise the CPIC 2017 warfarin guideline
 * (PMID 28198005, Figure 2) and are marked `curated`; the algorithmic dose itself is not computed.
 */
function warfarinRecords(genes: Record<string, KbGene>): KbRecommendation[] {
  const carriersOf = (gene: string, rsid: string, base: string): string[] => {
    const g = genes[gene];
    if (g === undefined) return [];
    const at = g.positions.findIndex((p) => p[1] === rsid);
    return g.alleles.filter(([, cells]) => cells[at] === base).map(([name]) => name);
  };
  const cyp4f2Star3 = carriersOf('CYP4F2', 'rs2108622', 'T');
  const curated = (r: Omit<KbRecommendation, 'implications' | 'alternatives' | 'curated' | 'considerations'> & { considerations?: string }): KbRecommendation => ({
    id: r.id,
    population: r.population,
    conditions: r.conditions,
    lookup: r.lookup,
    classification: r.classification,
    recommendation: r.recommendation,
    considerations: r.considerations ?? null,
    implications: [],
    alternatives: [],
    actionable: r.actionable,
    curated: true,
  });
  /**
   * Genotype-guided dosing (CPIC 2017) applies to every genotyped patient, but it is worth an alert
   * only when the genotype moves the dose: CYP2C9 decreased function or VKORC1 -1639A. For an
   * unremarkable genotype the same guidance is a recommendation without an alert.
   */
  const guidedDosing = (id: string, population: string, classification: string, recommendation: string, considerations: string): KbRecommendation[] => [
    curated({
      id: `${id}-cyp2c9-decreased`,
      population,
      conditions: [
        { gene: 'CYP2C9', kind: 'phenotype', values: ['Intermediate Metabolizer', 'Poor Metabolizer'] },
        { gene: 'VKORC1', kind: 'reported', values: [] },
      ],
      lookup: { CYP2C9: 'Intermediate or Poor Metabolizer', VKORC1: 'any result' },
      classification,
      recommendation,
      considerations,
      actionable: true,
    }),
    curated({
      id: `${id}-vkorc1-sensitive`,
      population,
      conditions: [
        { gene: 'CYP2C9', kind: 'reported', values: [] },
        { gene: 'VKORC1', kind: 'carries', values: ['rs9923231 variant (T)'] },
      ],
      lookup: { CYP2C9: 'any result', VKORC1: 'carrier of -1639A (rs9923231 T)' },
      classification,
      recommendation,
      considerations,
      actionable: true,
    }),
    curated({
      id,
      population,
      conditions: [
        { gene: 'CYP2C9', kind: 'reported', values: [] },
        { gene: 'VKORC1', kind: 'reported', values: [] },
      ],
      lookup: { CYP2C9: 'any result', VKORC1: 'any result' },
      classification,
      recommendation,
      considerations,
      actionable: false,
    }),
  ];
  return [
    ...guidedDosing(
      'warfarin-2017-non-african',
      'non-African ancestry',
      'Strong',
      'Calculate the dose with a validated pharmacogenetic dosing algorithm (IWPC or Gage) that uses the VKORC1 -1639G>A and CYP2C9 *2/*3 genotypes.',
      'Consider an alternative agent for CYP2C9 poor-metabolism genotypes (e.g. *2/*3, *3/*3), or when increased VKORC1 sensitivity (-1639 AG or AA) occurs together with CYP2C9 poor metabolism.',
    ),
    curated({
      id: 'warfarin-2017-non-african-cyp4f2',
      population: 'non-African ancestry',
      conditions: [{ gene: 'CYP4F2', kind: 'carries', values: cyp4f2Star3 }],
      lookup: { CYP4F2: `carrier of ${cyp4f2Star3.join(', ')} (rs2108622 T)` },
      classification: 'Optional',
      recommendation: 'CYP4F2*3 (rs2108622 T) carrier: increase the algorithm-calculated dose by 5-10%.',
      actionable: true,
    }),
    ...guidedDosing(
      'warfarin-2017-african',
      'African ancestry',
      'Moderate',
      'Calculate the dose with a validated pharmacogenetic dosing algorithm that uses the VKORC1 -1639G>A and CYP2C9 *2/*3 genotypes. If CYP2C9 *5, *6, *8 and *11 were not tested, dose warfarin clinically.',
      'Carriers of the rs12777823 A allele (African American patients) may need a 10-25% lower dose; this position is reported by the caller but not evaluated here.',
    ),
    curated({
      id: 'warfarin-2017-african-cyp2c9',
      population: 'African ancestry',
      conditions: [{ gene: 'CYP2C9', kind: 'carries', values: ['*5', '*6', '*8', '*11'] }],
      lookup: { CYP2C9: 'carrier of *5, *6, *8 or *11' },
      classification: 'Moderate',
      recommendation: 'CYP2C9 *5, *6, *8 or *11 carrier: decrease the algorithm-calculated dose by 15-30% (a 20-40% reduction may be needed in variant homozygotes).',
      actionable: true,
    }),
  ];
}

// --- main ------------------------------------------------------------------------------------------

export function buildKnowledgeBase(dir: string): KnowledgeBase {
  const exemptions = readJson<Record<string, Exemption>>(join(dir, 'definition', 'exemptions.json'));
  const genes: Record<string, KbGene> = {};
  for (const gene of GENES) genes[gene] = buildGene(dir, gene, exemptions);
  const drugs = readdirSync(join(dir, 'guidelines'))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => buildDrug(dir, f));
  for (const drug of drugs) {
    if (drug.name === 'warfarin' && drug.recommendations.length === 0) drug.recommendations = warfarinRecords(genes);
  }
  // The version names the data release and the content, so any change to the converted facts
  // (converter, curated records) is a new version and the processor re-analyses everyone.
  const content = createHash('sha256').update(JSON.stringify({ genes, drugs })).digest('hex').slice(0, 8);
  return {
    format: KB_FORMAT,
    version: `${DATA_VERSION}+${content}`,
    source: SOURCE,
    licence: 'CPIC allele definitions, phenotype tables and recommendations: CC0 1.0',
    genes,
    drugs,
    notes: [
      'Warfarin: the CPIC records hold no lookup rows; the warfarin records are a curated summary of the CPIC 2017 guideline (PMID 28198005) and do not compute an algorithmic dose.',
      'SLCO1B1: when no star-allele diplotype fits, the phenotype comes from rs4149056 alone (CPIC 2022).',
      `RxNorm ingredient codes are recorded here (${Object.entries(RXNORM)
        .map(([d, c]) => `${d} ${c.join(',')}`)
        .join('; ')}); the recommendation records carry none.`,
    ],
  };
}

function main(argv: string[]): number {
  const dir = argv.find((a) => !a.startsWith('--'));
  const outAt = argv.indexOf('--out');
  const out = outAt >= 0 ? argv[outAt + 1] : fileURLToPath(new URL('../domain/pgx/kb/pgx-kb.json', import.meta.url));
  if (dir === undefined || out === undefined) {
    console.error('usage: node --import tsx scripts/build-pgx-kb.ts DATA_DIR [--out FILE]');
    return 2;
  }
  const kb = buildKnowledgeBase(resolve(dir));
  writeFileSync(out, `${JSON.stringify(kb)}\n`);
  const alleles = Object.values(kb.genes).reduce((n, g) => n + g.alleles.length, 0);
  const recs = kb.drugs.reduce((n, d) => n + d.recommendations.length, 0);
  console.log(`wrote ${out}: ${Object.keys(kb.genes).length} genes, ${alleles} named alleles, ${kb.drugs.length} drugs, ${recs} recommendations (data ${kb.version})`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
