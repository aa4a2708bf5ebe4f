import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StackError } from './errors.ts';
import { isAlive, sleep } from './process.ts';

const POLL_MS = 500;
/** A first install downloads ~700 MB; a waiting command gives the holder that long and more. */
const WAIT_LIMIT_MS = 15 * 60_000;
/** No stack command holds the lock this long; an older lock file is from a crashed command. */
const STALE_AFTER_MS = 60 * 60_000;

async function holderOf(path: string): Promise<{ pid: number | undefined; ageMs: number } | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    const pid = Number.parseInt(text.trim(), 10);
    return { pid: Number.isInteger(pid) ? pid : undefined, ageMs: Date.now() - info.mtimeMs };
  } catch {
    return undefined; // Released between our attempt and this read.
  }
}

async function tryAcquire(path: string): Promise<boolean> {
  try {
    const handle = await open(path, 'wx');
    await handle.writeFile(`${process.pid}\n`);
    await handle.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * Runs `fn` while holding <stackDir>/lock, so two stack commands on one checkout (say, the CLI and
 * a test run) never install into or start from the same folders at once. A lock whose holder
 * process is gone is taken over.
 */
export async function withStackLock<T>(stackDir: string, log: (line: string) => void, fn: () => Promise<T>): Promise<T> {
  await mkdir(stackDir, { recursive: true });
  const path = join(stackDir, 'lock');
  const deadline = Date.now() + WAIT_LIMIT_MS;
  let announced = false;
  while (!(await tryAcquire(path))) {
    const holder = await holderOf(path);
    if (holder !== undefined && (holder.pid === undefined || !isAlive(holder.pid) || holder.ageMs > STALE_AFTER_MS)) {
      // Re-read first: another waiter may have taken over the stale lock meanwhile.
      if ((await holderOf(path))?.pid === holder.pid) await rm(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new StackError(`another stack command (pid ${String(holder?.pid)}) has held ${path} for too long.`, {
        code: 'LOCKED',
      });
    }
    if (!announced) {
      log(`waiting for another stack command (pid ${String(holder?.pid)}) to finish ...`);
      announced = true;
    }
    await sleep(POLL_MS);
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}
