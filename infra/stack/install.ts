import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StackError } from './errors.ts';
import { INFRA_DIR, type StackPaths } from './paths.ts';
import { runCommand, seconds, tailText } from './process.ts';
import { findUnzipper, requireTool } from './tools.ts';
import {
  APICURIO_ARTIFACT,
  APICURIO_RUNNER_JAR,
  APICURIO_VERSION,
  CHDB_PACKAGE,
  CHDB_VERSION,
  DEPENDENCY_PLUGIN,
} from './versions.ts';

export interface InstallContext {
  paths: StackPaths;
  log: (line: string) => void;
}

/**
 * One resumable piece of the install. Its marker holds the fingerprint of what it installed, so a
 * finished step is skipped and a version bump (new fingerprint) re-runs it.
 */
interface InstallStep {
  id: string;
  title: string;
  fingerprint: () => Promise<string>;
  /** A file or folder that must still exist for the marker to be trusted. */
  artifact: (paths: StackPaths) => string;
  run: (ctx: InstallContext, step: InstallStep) => Promise<void>;
}

const KAFKA_POM = join(INFRA_DIR, 'kafka', 'pom.xml');
const LAUNCHER_SOURCE = join(INFRA_DIR, 'clickhouse', 'launcher.c');
const FAILURE_TAIL_LINES = 40;

async function sha256Of(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

/** Runs one command of a step; a non-zero exit fails the step with the tail of its output. */
async function exec(ctx: InstallContext, step: InstallStep, command: string, args: string[], cwd: string): Promise<void> {
  await mkdir(ctx.paths.installLogs, { recursive: true });
  const logPath = join(ctx.paths.installLogs, `${step.id}.log`);
  let result;
  try {
    result = await runCommand(command, args, { cwd, logPath });
  } catch (err) {
    throw new StackError(`install step "${step.title}" failed: could not run \`${command}\`.`, {
      code: 'INSTALL_FAILED',
      cause: err,
    });
  }
  if (result.code !== 0) {
    throw new StackError(
      `install step "${step.title}" failed: \`${command}\` exited with ${String(result.code)}.\n` +
        `--- last ${FAILURE_TAIL_LINES} lines (full output: ${logPath}) ---\n` +
        tailText(result.output, FAILURE_TAIL_LINES),
      { code: 'INSTALL_FAILED' },
    );
  }
}

/** Builds into `<target>.partial` and renames at the end, so a half-done folder is never used. */
async function intoFreshDir(target: string, build: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = `${target}.partial`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await build(tmp);
  await rm(target, { recursive: true, force: true });
  await rename(tmp, target);
}

const mavenBase = (paths: StackPaths): string[] => ['-B', '--no-transfer-progress', `-Dmaven.repo.local=${paths.m2}`];

const kafkaLibs: InstallStep = {
  id: 'kafka-libs',
  title: 'Kafka broker jars (Maven Central)',
  fingerprint: async () => `${DEPENDENCY_PLUGIN} ${await sha256Of(KAFKA_POM)}`,
  artifact: (p) => p.kafkaLibs,
  async run(ctx, step) {
    await requireTool('java', 'Kafka');
    await requireTool('mvn', 'downloading Kafka');
    await intoFreshDir(ctx.paths.kafkaLibs, (tmp) =>
      exec(
        ctx,
        step,
        'mvn',
        [...mavenBase(ctx.paths), '-f', KAFKA_POM, `${DEPENDENCY_PLUGIN}:copy-dependencies`, `-DoutputDirectory=${tmp}`],
        ctx.paths.cache,
      ),
    );
  },
};

const registryZip = (p: StackPaths): string => join(p.registryDownload, `apicurio-registry-app-${APICURIO_VERSION}-all.zip`);

const registryDownload: InstallStep = {
  id: 'registry-download',
  title: `Apicurio Registry ${APICURIO_VERSION} (Maven Central)`,
  fingerprint: () => Promise.resolve(`${DEPENDENCY_PLUGIN} ${APICURIO_ARTIFACT}`),
  artifact: registryZip,
  async run(ctx, step) {
    await requireTool('java', 'the schema registry');
    await requireTool('mvn', 'downloading the schema registry');
    await intoFreshDir(ctx.paths.registryDownload, (tmp) =>
      exec(
        ctx,
        step,
        'mvn',
        [...mavenBase(ctx.paths), `${DEPENDENCY_PLUGIN}:copy`, `-Dartifact=${APICURIO_ARTIFACT}`, `-DoutputDirectory=${tmp}`],
        // No pom.xml here: the goal runs without a project.
        ctx.paths.cache,
      ),
    );
  },
};

const registryUnpack: InstallStep = {
  id: 'registry-unpack',
  title: `unpack Apicurio Registry ${APICURIO_VERSION}`,
  fingerprint: () => Promise.resolve(APICURIO_ARTIFACT),
  artifact: (p) => join(p.registryApp, APICURIO_RUNNER_JAR),
  async run(ctx, step) {
    const unzipper = await findUnzipper();
    const zip = registryZip(ctx.paths);
    await intoFreshDir(ctx.paths.registryApp, (tmp) =>
      exec(ctx, step, unzipper.command, unzipper.args(zip, tmp), unzipper.cwd(tmp)),
    );
  },
};

const chdbLibrary: InstallStep = {
  id: 'chdb-lib',
  title: `ClickHouse engine ${CHDB_PACKAGE}@${CHDB_VERSION} (npm)`,
  fingerprint: () => Promise.resolve(`${CHDB_PACKAGE}@${CHDB_VERSION}`),
  artifact: (p) => p.chdbLib,
  async run(ctx, step) {
    await requireTool('npm', 'downloading the ClickHouse engine');
    const prefix = ctx.paths.chdbPrefix;
    await mkdir(prefix, { recursive: true });
    // Our own package.json stops npm from walking up into the repository's package.json.
    await writeFile(join(prefix, 'package.json'), JSON.stringify({ name: 'stack-chdb', private: true }, null, 2) + '\n');
    await exec(
      ctx,
      step,
      'npm',
      ['install', '--prefix', prefix, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `${CHDB_PACKAGE}@${CHDB_VERSION}`],
      prefix,
    );
  },
};

const clickhouseLauncher: InstallStep = {
  id: 'clickhouse-launcher',
  title: 'compile the ClickHouse launcher (gcc)',
  fingerprint: () => sha256Of(LAUNCHER_SOURCE),
  artifact: (p) => p.launcher,
  async run(ctx, step) {
    await requireTool('gcc', 'building the ClickHouse launcher');
    const out = ctx.paths.launcher;
    await mkdir(join(out, '..'), { recursive: true });
    await exec(ctx, step, 'gcc', ['-O2', '-Wall', '-o', `${out}.partial`, LAUNCHER_SOURCE, '-ldl'], ctx.paths.cache);
    await rename(`${out}.partial`, out);
  },
};

const STEPS: readonly InstallStep[] = [kafkaLibs, registryDownload, registryUnpack, chdbLibrary, clickhouseLauncher];

const markerPath = (paths: StackPaths, step: InstallStep): string => join(paths.markers, `${step.id}.done`);

async function isInstalled(paths: StackPaths, step: InstallStep): Promise<boolean> {
  if (!existsSync(step.artifact(paths))) return false;
  try {
    return (await readFile(markerPath(paths, step), 'utf8')).trim() === (await step.fingerprint());
  } catch {
    return false;
  }
}

/** Runs every step that is not installed yet; a failed step leaves no marker and throws. */
export async function installAll(ctx: InstallContext): Promise<void> {
  await mkdir(ctx.paths.markers, { recursive: true });
  const pending: InstallStep[] = [];
  for (const step of STEPS) {
    if (!(await isInstalled(ctx.paths, step))) pending.push(step);
  }
  if (pending.length === 0) return;
  ctx.log(`install: ${pending.length} step(s) to do, into ${ctx.paths.cache}`);
  const started = Date.now();
  for (const step of pending) {
    const stepStarted = Date.now();
    ctx.log(`install: ${step.title} ...`);
    await rm(markerPath(ctx.paths, step), { force: true });
    await step.run(ctx, step);
    await writeFile(markerPath(ctx.paths, step), `${await step.fingerprint()}\n`);
    ctx.log(`install: ${step.title} done (${seconds(Date.now() - stepStarted)})`);
  }
  ctx.log(`install: finished in ${seconds(Date.now() - started)}`);
}
