/**
 * Headless Chromium for the browser tests: Debian's `chromium` package, driven by playwright-core
 * through its executablePath. `ensureChromium()` finds it (BACKBONE_CHROMIUM, then PATH) and, when
 * missing, installs it with apt-get (as root, or through password-less sudo), so a fresh machine
 * runs the browser tests from `npm test` alone. It fails with a clear error; it never skips.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Config } from '../platform/config.ts';

const CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome'];

function onPath(name: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path !== '' ? path : undefined;
}

export function findChromium(config: Pick<Config, 'chromiumPath'>): string | undefined {
  if (config.chromiumPath !== '') return existsSync(config.chromiumPath) ? config.chromiumPath : undefined;
  for (const name of CANDIDATES) {
    const path = onPath(name);
    if (path !== undefined) return path;
  }
  return undefined;
}

export function ensureChromium(config: Pick<Config, 'chromiumPath'>, log: (line: string) => void = (l) => console.error(l)): string {
  const found = findChromium(config);
  if (found !== undefined) return found;
  if (config.chromiumPath !== '') throw new Error(`BACKBONE_CHROMIUM names ${config.chromiumPath}, which does not exist`);
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const sudo = !root && spawnSync('sudo', ['-n', 'true']).status === 0;
  if (!root && !sudo) {
    throw new Error('Chromium is not installed and this user cannot install it: run `sudo apt-get install -y chromium`, or set BACKBONE_CHROMIUM to a Chromium executable');
  }
  if (onPath('apt-get') === undefined) throw new Error('Chromium is not installed and apt-get is not available: install Chromium and set BACKBONE_CHROMIUM');
  const run = (args: string[]): void => {
    const full = ['env', 'DEBIAN_FRONTEND=noninteractive', ...args];
    const [cmd, ...rest] = sudo ? ['sudo', '-n', ...full] : full;
    log(`[browser] ${args.join(' ')}`);
    execFileSync(cmd ?? 'env', rest, { stdio: ['ignore', 'ignore', 'inherit'] });
  };
  run(['apt-get', 'update']);
  run(['apt-get', 'install', '-y', '--no-install-recommends', 'chromium']);
  const installed = findChromium(config);
  if (installed === undefined) throw new Error('apt-get installed chromium but no chromium executable is on PATH');
  return installed;
}
