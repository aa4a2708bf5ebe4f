/**
 * VCF connector benchmark (prints numbers; not a test). `npm run bench:vcf [-- options]`
 *
 * 1. Generates (once, cached) realistic synthetic VCFs with bench/vcf-generate.ts: 220,000 records x
 *    100 samples and x 1 sample, plain and BGZF.
 * 2. For each: times `bcftools query -f '[%CHROM\t%POS\t%SAMPLE\t%GT\n]'` (installing bcftools with
 *    apt-get when missing), then our connector publishing the file to the real Kafka until every
 *    event is acknowledged: `backbone vcf publish --json FILE`, the command an integrator runs, in a
 *    process of its own on its own topic prefix (the ratio against the goal). Then the same in a
 *    running connector: one process publishing the file four times, the median of the 2nd-4th.
 *    Checks that our non-reference call count equals bcftools' `-i 'GT="alt"'` count.
 * 3. Splits our time: the same file scanned and Avro-encoded without Kafka.
 * 4. Measures the @gmod/vcf path (parseLine + SAMPLES) against the byte-level scanner on a slice.
 *
 * Options: --records N --samples N --dir DIR (cache) --big GB (also publish a >= GB-sized file and
 * report peak RSS; not run by default; --keep keeps that file) --only NAME,... (100|100gz|1|1gz)
 * --repeat N (runs of bcftools and of ours per file, interleaved; medians reported; default 3).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { childEnv, loadConfig, type Config } from '../platform/config.ts';
import { createKafka } from '../platform/kafka/kafkajs.ts';
import { createLogger } from '../platform/log.ts';
import { setup } from '../cli/setup.ts';
import { stackOptions } from '../cli/stack.ts';
import * as stack from '../infra/stack/index.ts';
import { VcfParser } from '../connectors/vcf/core.ts';
import { pgxPositions } from '../connectors/vcf/pgx-positions.ts';
import { hashInWorker, inspectFile, readText, sniffCompression } from '../connectors/vcf/reader.ts';
import { referenceCalls } from '../connectors/vcf/reference.ts';
import { warmUpIfNeeded } from '../connectors/vcf/warm-up.ts';
import { HASH_WHILE_SCANNING, MAX_WAITING_BYTES, type VcfSummary } from '../connectors/vcf/runner.ts';
import { isolatedSettings } from './support.ts';
import { bytesPerRecord, writeVcf } from './vcf-generate.ts';
import { fromRoot } from '../platform/paths.ts';

const SELF = fileURLToPath(import.meta.url);
const CLI = fromRoot('bin', 'backbone.js');

interface ChildResult {
  seconds: number;
  maxRssMb: number;
  calls: number;
  nonRefCalls: number;
  events: number;
  bytes: number;
}

/** In the child: scan and encode one file without Kafka, print one JSON line. */
async function child(file: string): Promise<void> {
  const mapping = { kind: 'keyed-hash' as const, key: 'bench' };
  let result: Omit<ChildResult, 'maxRssMb'>;
  {
    const t0 = performance.now();
    // Hashed as the connector does: a large plain file on a worker thread while it is scanned.
    const plain = (await sniffCompression(file)) === 'none' && statSync(file).size >= HASH_WHILE_SCANNING;
    const hashing = plain ? hashInWorker(file) : undefined;
    const inspected = plain ? { sha256: '', compression: 'none' as const } : await inspectFile(file);
    const parser = new VcfParser({
      facts: { sha256: inspected.sha256, sourceId: 'bench', lab: null, ingestedAt: Date.now(), pipelineVersion: 'bench' },
      mapping,
      pgx: pgxPositions(),
      wireHeaders: { calls: Buffer.alloc(5), block: Buffer.alloc(5) },
    });
    let bytes = 0;
    let resolved = hashing === undefined;
    for await (const chunk of readText(file, inspected.compression)) {
      parser.push(chunk);
      warmUpIfNeeded(parser.stats, pgxPositions()); // as the connector does
      if (!resolved && parser.bytesWaiting > MAX_WAITING_BYTES) {
        parser.resolveSha256((await (hashing as Promise<{ sha256: string }>)).sha256, 'bench');
        resolved = true;
      }
      for (const e of parser.take().events) bytes += e.value.length;
    }
    parser.end();
    if (!resolved) parser.resolveSha256((await (hashing as Promise<{ sha256: string }>)).sha256, 'bench');
    for (const e of parser.take().events) bytes += e.value.length;
    result = { seconds: (performance.now() - t0) / 1000, calls: parser.stats.calls, nonRefCalls: parser.stats.nonRefCalls, events: parser.stats.events, bytes };
  }
  console.log(JSON.stringify({ ...result, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
}

function ensureBcftools(): void {
  if (spawnSync('bcftools', ['--version'], { stdio: 'ignore' }).status === 0) return;
  console.error('bcftools is missing: installing the Debian package (apt-get)');
  const root = process.getuid?.() === 0;
  const run = (args: string[]): void => {
    const r = root ? spawnSync(args[0] as string, args.slice(1), { stdio: 'inherit' }) : spawnSync('sudo', ['-n', ...args], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`'${args.join(' ')}' failed; install bcftools (apt-get install -y bcftools) and run again`);
  };
  run(['apt-get', 'update']);
  run(['apt-get', 'install', '-y', 'bcftools']);
}

/** Runs a command with stdout counted (not kept); resolves with seconds and output lines. Its stderr is shown only if it fails. */
function timed(cmd: string, args: string[], env?: Record<string, string>): Promise<{ seconds: number; lines: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(env === undefined ? {} : { env }) });
    let lines = 0;
    let tail = '';
    let errTail = '';
    p.stdout.on('data', (chunk: Buffer) => {
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
      tail = (tail + chunk.toString('latin1')).slice(-4096);
    });
    p.stderr.on('data', (chunk: Buffer) => (errTail = (errTail + chunk.toString('utf8')).slice(-8192)));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code === 0) resolve({ seconds: (performance.now() - t0) / 1000, lines, stdout: tail });
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${errTail}`));
    });
  });
}

async function scanInChild(file: string, env: Record<string, string>): Promise<ChildResult & { processSeconds: number }> {
  const r = await timed(process.execPath, ['--import', 'tsx', SELF, '--child', file], env);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return { ...(JSON.parse(last) as ChildResult), processSeconds: r.seconds };
}

type CliResult = ChildResult & { processSeconds: number };

/**
 * `backbone vcf publish --json FILE` (compiled when the build is fresh, as for an integrator); its
 * summary line. With `copies` > 1 the one process publishes the file that many times, as a running
 * connector (watch, serve, several files per run) does: one summary per copy.
 */
async function publishWithCli(file: string, env: Record<string, string>, copies = 1): Promise<CliResult[]> {
  const r = await timed(process.execPath, [CLI, 'vcf', 'publish', '--json', ...Array.from({ length: copies }, () => file)], { ...env, BACKBONE_VCF_PSEUDONYM_KEY: 'bench' });
  const lines = r.stdout.trim().split('\n').slice(-copies);
  if (lines.length < copies) throw new Error(`backbone vcf publish printed ${lines.length} summaries for ${copies} copies of ${file}`);
  return lines.map((line) => {
    const s = JSON.parse(line) as VcfSummary & { process: { peakRssMb: number } };
    return { seconds: s.seconds, calls: s.calls, nonRefCalls: s.nonRefCalls, events: s.events, bytes: 0, maxRssMb: s.process.peakRssMb, processSeconds: r.seconds };
  });
}

async function publishOnce(file: string, env: Record<string, string>): Promise<CliResult> {
  const [result] = await publishWithCli(file, env);
  if (result === undefined) throw new Error(`backbone vcf publish ${file} printed no summary`);
  return result;
}

async function isolated(base: Config, name: string): Promise<Record<string, string>> {
  const settings = isolatedSettings(base, `bench-vcf-${name}`, randomBytes(3).toString('hex'));
  const config = loadConfig(settings);
  const log = createLogger({ level: 'warn', name: 'bench-vcf' });
  await setup(config, createKafka(config, log, '-bench-vcf'));
  return settings;
}

async function cleanup(base: Config, prefixes: string[], databases: string[]): Promise<void> {
  const admin = await createKafka(base, createLogger({ level: 'warn', name: 'bench-vcf' }), '-bench-vcf').admin();
  const topics = (await admin.listTopics()).filter((t) => prefixes.some((p) => t.startsWith(p)));
  await admin.deleteTopics(topics);
  await admin.close();
  for (const db of databases) await fetch(`${base.clickhouseUrl}/?query=${encodeURIComponent(`DROP DATABASE IF EXISTS ${db}`)}`, { method: 'POST' }).catch(() => {});
}

const f1 = (n: number): string => n.toFixed(2);

/** The run with the median value (the lower middle one for an even count). */
function median<T>(runs: T[], value: (run: T) => number): T {
  const sorted = [...runs].sort((a, b) => value(a) - value(b));
  return sorted[Math.floor((sorted.length - 1) / 2)] as T;
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      records: { type: 'string', default: '220000' },
      samples: { type: 'string', default: '100' },
      dir: { type: 'string', default: path.join(tmpdir(), 'backbone-vcf-bench') },
      big: { type: 'string' },
      only: { type: 'string' },
      keep: { type: 'boolean', default: false },
      repeat: { type: 'string', default: '3' },
      child: { type: 'string' },
    },
    allowPositionals: true,
  });
  const records = Number(values.records);
  const samples = Number(values.samples);
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat ${values.repeat ?? ''}: give a whole number of runs, 1 or more`);
  const dir = values.dir ?? '';
  const base = loadConfig();
  ensureBcftools();
  if (base.stackMode === 'native') await stack.up({ ...stackOptions(base), log: (l) => console.error(`[stack] ${l}`) });
  await mkdir(dir, { recursive: true });

  const inputs = [
    { name: '100', samples, bgzip: false },
    { name: '100gz', samples, bgzip: true },
    { name: '1', samples: 1, bgzip: false },
    { name: '1gz', samples: 1, bgzip: true },
  ].filter((i) => values.only === undefined || values.only.split(',').includes(i.name));
  const prefixes: string[] = [];
  const databases: string[] = [];
  const rows: string[] = [];
  console.log(`VCF connector vs bcftools query (${records.toLocaleString('en')} records; ${spawnSync('bcftools', ['--version']).stdout.toString().split('\n')[0]})`);
  for (const input of inputs) {
    const file = path.join(dir, `synthetic-${records}x${input.samples}.vcf${input.bgzip ? '.gz' : ''}`);
    if (!existsSync(file)) {
      console.error(`generating ${file}`);
      await writeVcf(file, { records, samples: input.samples, seed: 1, bgzip: input.bgzip });
    }
    const alt = await timed('bcftools', ['query', '-i', 'GT="alt"', '-f', '[%CHROM\\t%POS\\t%SAMPLE\\t%GT\\n]', file]);
    const settings = await isolated(base, input.name);
    prefixes.push(settings.BACKBONE_TOPIC_PREFIX ?? '');
    databases.push(settings.BACKBONE_CLICKHOUSE_DATABASE ?? '');
    const env = childEnv(settings);
    // Interleaved runs, the median of each reported: on a shared two-core machine one run of either
    // can be off by half. (A re-sent file is the same events again: nothing else changes.)
    const bcfRuns: Awaited<ReturnType<typeof timed>>[] = [];
    const ourRuns: CliResult[] = [];
    for (let r = 0; r < repeat; r++) {
      bcfRuns.push(await timed('bcftools', ['query', '-f', '[%CHROM\\t%POS\\t%SAMPLE\\t%GT\\n]', file]));
      ourRuns.push(await publishOnce(file, env));
    }
    // A running connector: the 2nd to 4th copy of the file in one process (module loading, the
    // producer's connection and the scanner's JIT warm-up already paid by the first).
    const running = median((await publishWithCli(file, env, 4)).slice(1), (r) => r.seconds);
    const bcf = median(bcfRuns, (r) => r.seconds);
    const ours = median(ourRuns, (r) => r.seconds);
    const spread = (runs: { seconds: number }[]): string => (runs.length === 1 ? '' : ` [${runs.map((r) => f1(r.seconds)).join(' ')}]`);
    const scan = await scanInChild(file, env);
    const ratio = ours.seconds / bcf.seconds;
    const goal = input.samples === 1 ? 1.0 : 0.5;
    rows.push(
      `${`${input.samples} sample${input.samples === 1 ? '' : 's'}, ${input.bgzip ? 'bgzip' : 'plain'}`.padEnd(20)} ` +
        `bcftools ${f1(bcf.seconds).padStart(6)} s${spread(bcfRuns)} | ours ${f1(ours.seconds).padStart(6)} s${spread(ourRuns)} (process ${f1(ours.processSeconds)} s) | ` +
        `ratio ${f1(ratio)} (goal <= ${goal.toFixed(1)}${ratio <= goal ? ', met' : ', NOT met'}) | ` +
        `in a running connector ${f1(running.seconds)} s, ratio ${f1(running.seconds / bcf.seconds)} | ` +
        `${Math.round(bcf.lines / ours.seconds).toLocaleString('en')} genotype calls/s | ` +
        `scan+encode only ${f1(scan.seconds)} s, Kafka share ${f1(Math.max(0, ours.seconds - scan.seconds))} s | ` +
        `peak RSS ${ours.maxRssMb.toFixed(0)} MB | events ${ours.events.toLocaleString('en')}, ` +
        `non-ref calls ${ours.nonRefCalls.toLocaleString('en')} vs bcftools GT="alt" ${alt.lines.toLocaleString('en')} ${ours.nonRefCalls === alt.lines ? 'EQUAL' : 'DIFFERENT'}`,
    );
    console.log(rows[rows.length - 1]);
  }

  // @gmod/vcf (parseLine + SAMPLES) vs the byte-level scanner, same slice, same rules.
  {
    const file = path.join(dir, `synthetic-${records}x${samples}.vcf`);
    if (existsSync(file)) {
      const text = readFileSync(file, 'latin1');
      const slice = text.slice(0, text.indexOf('\n', Math.min(text.length - 1, 60_000_000)) + 1);
      const sliceRecords = slice.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
      let t0 = performance.now();
      referenceCalls(slice, pgxPositions());
      const gmod = (performance.now() - t0) / 1000;
      t0 = performance.now();
      const parser = new VcfParser({
        facts: { sha256: '0'.repeat(64), sourceId: 'bench', lab: null, ingestedAt: 0, pipelineVersion: 'bench' },
        mapping: { kind: 'keyed-hash', key: 'bench' },
        pgx: pgxPositions(),
      });
      parser.push(Buffer.from(slice, 'latin1'));
      parser.end();
      parser.take();
      const scanner = (performance.now() - t0) / 1000;
      console.log(
        `record path on ${sliceRecords.toLocaleString('en')} records x ${samples} samples: @gmod/vcf parseLine+SAMPLES ${f1(gmod)} s ` +
          `(${Math.round(sliceRecords / gmod).toLocaleString('en')} records/s), byte-level scanner + Avro ${f1(scanner)} s ` +
          `(${Math.round(sliceRecords / scanner).toLocaleString('en')} records/s): ${f1(gmod / scanner)}x`,
      );
    }
  }

  if (values.big !== undefined) {
    const gb = Number(values.big);
    const file = path.join(dir, `synthetic-${gb}GB-x${samples}.vcf`);
    if (!existsSync(file)) {
      const n = Math.ceil((gb * 1e9) / bytesPerRecord(samples));
      console.error(`generating ${file} (${n.toLocaleString('en')} records)`);
      await writeVcf(file, { records: n, samples, seed: 5 });
    }
    const settings = await isolated(base, 'big');
    prefixes.push(settings.BACKBONE_TOPIC_PREFIX ?? '');
    databases.push(settings.BACKBONE_CLICKHOUSE_DATABASE ?? '');
    const ours = await publishOnce(file, childEnv(settings));
    console.log(
      `${gb} GB file: published in ${f1(ours.seconds)} s, ${ours.events.toLocaleString('en')} events, ${ours.calls.toLocaleString('en')} calls; ` +
        `peak RSS ${ours.maxRssMb.toFixed(0)} MB (goal <= 300 MB${ours.maxRssMb <= 300 ? ', met' : ', NOT met'})`,
    );
    if (values.keep !== true) await rm(file, { force: true });
  }
  await cleanup(base, prefixes, databases);
}

const args = process.argv.slice(2);
if (args[0] === '--child') await child(args[1] ?? '');
else await main(args);
