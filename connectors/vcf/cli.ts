/**
 * `backbone vcf ...`: the composition root of the VCF connector.
 *
 *   backbone vcf publish FILE... [--samples map.tsv] [--lab NAME] [--dry-run | --json]   (FILE '-' reads stdin)
 *   backbone vcf watch DIR [--samples map.tsv] [--lab NAME]
 *   backbone vcf serve
 */
import { readFile, rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Config } from '../../platform/config.ts';
import { InvalidInputError } from '../../platform/errors.ts';
import { createKafka } from '../../platform/kafka/kafkajs.ts';
import { Lifecycle } from '../../platform/lifecycle.ts';
import { createLogger } from '../../platform/log.ts';
import { startTelemetry } from '../../platform/telemetry.ts';
import { grouped, progressBar } from './progress.ts';
import { publishVcf, spool, type VcfSummary } from './runner.ts';
import { parseSampleMap, type SampleMapping } from './samples.ts';
import { peakRssMb } from '../../platform/memory.ts';

const USAGE = `usage:
  backbone vcf publish FILE... [--samples map.tsv] [--lab NAME] [--dry-run | --json]   ('-' reads stdin)
  backbone vcf watch DIR [--samples map.tsv] [--lab NAME]
  backbone vcf serve

Samples become patients through --samples (TSV: sample, patient id, optional sample id) or, without
it, through a keyed hash of the sample name (BACKBONE_VCF_PSEUDONYM_KEY).`;

export async function vcfCommand(args: string[], config: Config): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'publish':
      return publishCommand(rest, config);
    case 'watch':
      return (await import('./watch.ts')).watchCommand(rest, config);
    case 'serve':
      return (await import('./serve.ts')).serveCommand(rest, config);
    default:
      console.error(sub === undefined ? USAGE : `backbone vcf: unknown subcommand '${sub}'\n\n${USAGE}`);
      return 2;
  }
}

/** The sample mapping from --samples, else the keyed-hash rule; neither is an error. */
export async function sampleMapping(config: Config, samplesFile: string | undefined): Promise<SampleMapping> {
  if (samplesFile !== undefined) {
    const text = await readFile(samplesFile, 'utf8').catch(() => {
      throw new InvalidInputError(`--samples ${samplesFile}: no such file`);
    });
    return parseSampleMap(text, samplesFile);
  }
  if (config.vcfPseudonymKey !== '') return { kind: 'keyed-hash', key: config.vcfPseudonymKey };
  throw new InvalidInputError('no sample → patient mapping: give --samples map.tsv, or set BACKBONE_VCF_PSEUDONYM_KEY to derive pseudonymous ids from sample names');
}

export function describeSummary(s: VcfSummary, dryRun: boolean): string {
  const lines = [
    `${s.file}: ${grouped(s.records)} records, ${grouped(s.samples)} samples, ` +
      `${grouped(s.events)} events (${grouped(s.events - s.variantBlocks)} per patient, ${grouped(s.variantBlocks)} variant blocks; ` +
      `${grouped(s.calls)} calls, ${grouped(s.nonRefCalls)} non-reference) ` +
      `${dryRun ? 'written (dry run)' : 'published'}, ${s.deadLettered} dead-lettered, ${s.seconds.toFixed(2)} s`,
    `  VCFv${s.version}, ${s.compression === 'none' ? 'plain' : s.compression}, build ${s.assembly} (${s.assemblyEvidence}), sha256 ${s.sha256.slice(0, 12)}…`,
    `  PGx positions: ${s.pgx.active ? `${s.pgx.covered}/${s.pgx.total} present in the file (absent = not tested)` : 'not applied'}: ${s.pgx.reason}`,
  ];
  if (s.skippedContigRecords > 0) {
    const names = Object.keys(s.skippedContigs);
    lines.push(`  skipped ${s.skippedContigRecords} records on contigs outside 1-22/X/Y/MT (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''})`);
  }
  if (s.recordsWithoutGenotypes > 0) lines.push(`  ${s.recordsWithoutGenotypes} records have no GT in FORMAT (nothing to publish)`);
  if (s.unmappedSamples.length > 0) {
    lines.push(`  ${s.unmappedSamples.length} samples not in the sample map, not published: ${s.unmappedSamples.slice(0, 10).join(', ')}${s.unmappedSamples.length > 10 ? ', …' : ''}`);
  }
  return lines.join('\n');
}

async function publishCommand(args: string[], config: Config): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { samples: { type: 'string' }, lab: { type: 'string' }, 'dry-run': { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
  });
  if (positionals.length === 0) throw new InvalidInputError(`vcf publish needs at least one FILE ('-' for stdin)\n\n${USAGE}`);
  const dryRun = values['dry-run'] === true;
  const json = values.json === true;
  if (json && dryRun) throw new InvalidInputError('--json and --dry-run both write to stdout: give one of them');
  const mapping = await sampleMapping(config, values.samples);
  const log = createLogger({ level: config.logLevel, name: 'vcf' });
  const life = new Lifecycle(log);
  life.add('telemetry', dryRun ? async () => {} : await startTelemetry(config, 'vcf'), (stop) => stop());
  const kafka = dryRun ? undefined : createKafka(config, log, '-vcf');
  // Not awaited: the producer connects while the first file is being scanned. A failed connection
  // is reported by the publish that needs it (handled here so that it is never an unhandled rejection).
  const producing = kafka?.producer({ compression: 'lz4' });
  producing?.catch(() => {});
  const producer = producing === undefined ? undefined : life.add('producer', producing, async (p) => (await p.catch(() => undefined))?.close());
  try {
    for (const given of positionals) {
      let file = given;
      let cleanup: string | undefined;
      if (given === '-') {
        const spooled = await spool(process.stdin);
        file = spooled.file;
        cleanup = spooled.dir;
      }
      try {
        const bar = progressBar(process.stderr, given === '-' ? 'stdin' : given);
        const summary = await publishVcf({ config, log, ...(producer === undefined ? {} : { producer }) }, file, {
          mapping,
          lab: values.lab ?? null,
          ...(given === '-' ? { fileName: null } : {}),
          ...(dryRun ? { dryRun: process.stdout } : {}),
          onProgress: bar.update,
        });
        bar.done();
        const shown = { ...summary, file: given === '-' ? 'stdin' : given };
        console.error(describeSummary(shown, dryRun));
        if (json) {
          // One line per file for scripts; process figures are the whole process's so far.
          const usage = process.resourceUsage();
          const proc = { peakRssMb: Math.round(peakRssMb() ?? usage.maxRSS / 1024), cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6 };
          console.log(JSON.stringify({ ...shown, process: proc }));
        }
      } finally {
        if (cleanup !== undefined) await rm(cleanup, { recursive: true, force: true });
      }
    }
  } finally {
    await life.stop();
  }
  return 0;
}
