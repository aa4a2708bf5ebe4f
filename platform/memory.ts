import { readFileSync } from 'node:fs';

/**
 * Peak resident memory (VmHWM) of a process in MB, on Linux; undefined elsewhere or once the process
 * is gone. For this process it is the honest figure: getrusage's maxRSS also counts the parent's
 * memory at the moment it started this one (exec keeps the larger high-water mark), so a small
 * program started by a large one looked large.
 */
export function peakRssMb(pid: number | 'self' = 'self'): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] === undefined ? undefined : Number(m[1]) / 1024;
  } catch {
    return undefined;
  }
}
