import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, openSync } from 'node:fs';
import { open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';

export const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** Elapsed time for progress messages, e.g. "2.6 s". */
export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

export interface CommandResult {
  code: number | null;
  /** Combined stdout and stderr (also written to the log file, if one was given). */
  output: string;
}

export interface CommandOptions {
  cwd: string;
  /** Where the full output goes; the returned `output` keeps only the last part. */
  logPath?: string;
}

const KEEP_OUTPUT_CHARS = 64 * 1024;

/**
 * Runs a command to completion. A missing executable is an 'error' event, not an exit code, so
 * it is turned into a rejection carrying the spawn error.
 */
export function runCommand(command: string, args: readonly string[], opts: CommandOptions): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const log = opts.logPath === undefined ? undefined : createWriteStream(opts.logPath);
    let output = '';
    const collect = (chunk: Buffer): void => {
      log?.write(chunk);
      output = (output + chunk.toString('utf8')).slice(-KEEP_OUTPUT_CHARS);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (err) => {
      log?.end();
      reject(err);
    });
    child.on('close', (code) => {
      const result = { code, output };
      if (log === undefined) resolve(result);
      else log.end(() => resolve(result));
    });
  });
}

/** The command's output if it could be run at all, else undefined (not on PATH). */
export async function probeCommand(command: string, args: readonly string[]): Promise<string | undefined> {
  try {
    const { output } = await runCommand(command, args, { cwd: '/' });
    return output;
  } catch {
    return undefined;
  }
}

export interface DetachedSpec {
  command: string;
  args: readonly string[];
  cwd: string;
  logFile: string;
}

/**
 * Starts a server in its own process group with stdout/stderr appended to its log file, so it
 * outlives the CLI and `down` can signal the whole group.
 */
export function spawnDetached(spec: DetachedSpec): ChildProcess {
  const fd = openSync(spec.logFile, 'a');
  try {
    const child = spawn(spec.command, spec.args, { cwd: spec.cwd, detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    return child;
  } finally {
    // The child has its own copy of the descriptor.
    closeSync(fd);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the pid exists but belongs to someone else; it is alive, just not signal-able.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The process's command line joined by spaces, or undefined when it is gone (or a zombie). */
export async function commandLineOf(pid: number): Promise<string | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.length === 0 ? undefined : raw.split('\0').join(' ');
  } catch {
    return undefined;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    // Negative pid: the whole process group, which spawnDetached made the server the leader of.
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // Already gone.
    }
  }
}

/**
 * Gone, or a zombie whose every thread has ended (waiting only to be reaped). A process whose main
 * thread ended while other threads still run is also 'Z' in /proc, so the thread list decides.
 */
async function hasExited(pid: number): Promise<boolean> {
  if (!isAlive(pid)) return true;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The state follows the parenthesised command name, which may itself contain spaces.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' && (await readdir(`/proc/${pid}/task`)).length <= 1;
  } catch {
    return !isAlive(pid);
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await hasExited(pid)) return true;
    await sleep(100);
  }
  return false;
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. Returns how it ended. */
export async function stopProcess(pid: number, graceMs: number): Promise<'terminated' | 'killed' | 'survived'> {
  signal(pid, 'SIGTERM');
  if (await waitForExit(pid, graceMs)) return 'terminated';
  signal(pid, 'SIGKILL');
  return (await waitForExit(pid, 5_000)) ? 'killed' : 'survived';
}

export async function readPidFile(path: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(path, 'utf8')).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Write-then-rename, so a reader never sees a half-written pid. */
export async function writePidFile(path: string, pid: number): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, `${pid}\n`);
  await rename(tmp, path);
}

export async function removeFile(path: string): Promise<void> {
  await rm(path, { force: true });
}

const TAIL_WINDOW_BYTES = 256 * 1024;

/** The last `lines` lines of a text file ('' if it does not exist); reads only the file's end. */
export async function tailFile(path: string, lines: number): Promise<string> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch {
    return '';
  }
  const start = Math.max(0, size - TAIL_WINDOW_BYTES);
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(size - start);
    await handle.read(buf, 0, buf.length, start);
    return tailText(buf.toString('utf8'), lines);
  } finally {
    await handle.close();
  }
}

export function tailText(text: string, lines: number): string {
  if (lines <= 0) return '';
  return text.replace(/\n+$/, '').split('\n').slice(-lines).join('\n');
}
