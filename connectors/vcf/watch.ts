/**
 * `backbone vcf watch DIR`: a drop folder. A file ending in .vcf, .vcf.gz or .vcf.bgz that has not
 * changed for BACKBONE_VCF_WATCH_SETTLE_MS is published, then moved to DIR/done (with a summary file)
 * or, when it is refused, to DIR/failed with a `.reason.txt` file saying why. Other files are left
 * alone. Polling (not inotify) keeps it working on network file systems.
 */
import { mkdir, readdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Config } from '../../platform/config.ts';
import { BackboneError, InvalidInputError, describeError } from '../../platform/errors.ts';
import { createKafka } from '../../platform/kafka/kafkajs.ts';
import { Lifecycle } from '../../platform/lifecycle.ts';
import { createLogger, type Logger } from '../../platform/log.ts';
import { sleep } from '../../platform/retry.ts';
import { startTelemetry } from '../../platform/telemetry.ts';
import { describeSummary, sampleMapping } from './cli.ts';
import { publishVcf, type VcfDeps } from './runner.ts';
import type { SampleMapping } from './samples.ts';

const PICKED = /\.(vcf|vcf\.gz|vcf\.bgz)$/i;

export interface DropOutcome {
  file: string;
  status: 'done' | 'failed';
  detail: string;
}

/** Seen sizes and times per file name, to wait until a file has stopped growing. */
export type Seen = Map<string, { size: number; mtimeMs: number; since: number }>;

/**
 * One pass over the drop folder: publishes every settled file and moves it away. A dependency
 * failure (Kafka down) leaves the file in place to be tried again on a later pass.
 */
export async function scanDropFolder(
  deps: VcfDeps,
  dir: string,
  options: { mapping: SampleMapping; lab?: string | null },
  seen: Seen,
  settleMs: number,
  now = Date.now(),
): Promise<DropOutcome[]> {
  const outcomes: DropOutcome[] = [];
  await mkdir(path.join(dir, 'done'), { recursive: true });
  await mkdir(path.join(dir, 'failed'), { recursive: true });
  for (const name of (await readdir(dir)).sort()) {
    if (name.startsWith('.') || !PICKED.test(name)) continue;
    const file = path.join(dir, name);
    const info = await stat(file).catch(() => undefined);
    if (info === undefined || !info.isFile()) continue;
    const before = seen.get(name);
    if (before === undefined || before.size !== info.size || before.mtimeMs !== info.mtimeMs) {
      seen.set(name, { size: info.size, mtimeMs: info.mtimeMs, since: now });
      if (settleMs > 0) continue;
    } else if (now - before.since < settleMs) continue;
    seen.delete(name);
    try {
      const summary = await publishVcf(deps, file, { mapping: options.mapping, lab: options.lab ?? null });
      const target = await freeName(path.join(dir, 'done'), name);
      await rename(file, target);
      await writeFile(`${target}.summary.txt`, `${describeSummary({ ...summary, file: name }, false)}\n`);
      outcomes.push({ file: name, status: 'done', detail: `${summary.events} events, ${summary.deadLettered} dead-lettered` });
    } catch (error) {
      if (error instanceof BackboneError && error.retriable) {
        deps.log.warn({ err: describeError(error) }, 'drop folder: publishing failed for now; the file stays to be tried again');
        continue;
      }
      const reason = error instanceof InvalidInputError ? error.message.replace(`${file}: `, '') : describeError(error);
      const target = await freeName(path.join(dir, 'failed'), name);
      await rename(file, target);
      await writeFile(`${target}.reason.txt`, `${reason}\n`);
      outcomes.push({ file: name, status: 'failed', detail: reason });
    }
  }
  return outcomes;
}

/** A name in `dir` that does not exist yet: NAME, else NAME.1, NAME.2... before the extension. */
async function freeName(dir: string, name: string): Promise<string> {
  for (let i = 0; ; i++) {
    const candidate = path.join(dir, i === 0 ? name : name.replace(PICKED, (ext) => `.${i}${ext}`));
    if ((await stat(candidate).catch(() => undefined)) === undefined) return candidate;
  }
}

export async function watchCommand(args: string[], config: Config): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { samples: { type: 'string' }, lab: { type: 'string' } } });
  const dir = positionals[0];
  if (dir === undefined) throw new InvalidInputError('usage: backbone vcf watch DIR [--samples map.tsv]');
  const info = await stat(dir).catch(() => undefined);
  if (info?.isDirectory() !== true) throw new InvalidInputError(`${dir}: not a directory`);
  const mapping = await sampleMapping(config, values.samples);
  const log: Logger = createLogger({ level: config.logLevel, name: 'vcf-watch' });
  const life = new Lifecycle(log);
  life.add('telemetry', await startTelemetry(config, 'vcf-watch'), (stop) => stop());
  const producer = life.add('producer', await createKafka(config, log, '-vcf-watch').producer({ compression: 'lz4' }), (p) => p.close());
  const stop = new AbortController();
  life.stopOnSignals(() => process.exit(0));
  life.add('watch loop', stop, async (s) => s.abort());
  const seen: Seen = new Map();
  console.error(`watching ${dir} (files *.vcf, *.vcf.gz; settled after ${config.vcfWatchSettleMs} ms; results in ${dir}/done and ${dir}/failed)`);
  while (!stop.signal.aborted) {
    for (const o of await scanDropFolder({ config, log, producer }, dir, { mapping, lab: values.lab ?? null }, seen, config.vcfWatchSettleMs)) {
      console.error(`${o.file}: ${o.status} (${o.detail})`);
    }
    await sleep(Math.min(1000, config.vcfWatchSettleMs), stop.signal);
  }
  return 0;
}
