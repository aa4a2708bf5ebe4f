import { describe, expect, it } from 'vitest';
import { peakRssMb } from '../../platform/memory.ts';

describe('peak resident memory', () => {
  it.runIf(process.platform === 'linux')("is this process's own high-water mark, at least what it holds now", () => {
    const peak = peakRssMb();
    expect(peak).toBeDefined();
    expect(peak as number).toBeGreaterThanOrEqual(process.memoryUsage().rss / 1048576 - 1);
  });

  it('is unknown for a process that does not exist', () => {
    expect(peakRssMb(2 ** 22 + 12345)).toBeUndefined();
  });
});
