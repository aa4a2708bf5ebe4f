import { describe, expect, it } from 'vitest';
import { BackboneError, DependencyError, InvalidInputError, describeError, isRetriable } from '../../platform/errors.ts';
import { retry } from '../../platform/retry.ts';

const fast = { attempts: 4, initialDelayMs: 1, maxDelayMs: 4, what: 'test op', random: () => 0 };

describe('retry', () => {
  it('retries retriable errors until success', async () => {
    let calls = 0;
    const delays: number[] = [];
    const result = await retry(
      async () => {
        calls++;
        if (calls < 3) throw new DependencyError('clickhouse', 'down');
        return 'ok';
      },
      { ...fast, onRetry: (_e, _a, d) => delays.push(d) },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    expect(delays).toEqual([1, 1]); // full jitter with random()=0 gives half of 1 ms and 2 ms, rounded
  });

  it('never retries a non-retriable error', async () => {
    let calls = 0;
    const error = new InvalidInputError('bad row');
    await expect(
      retry(async () => {
        calls++;
        throw error;
      }, fast),
    ).rejects.toBe(error);
    expect(calls).toBe(1);
  });

  it('gives up with a clear error that keeps the cause', async () => {
    let calls = 0;
    const error = await retry(async () => {
      calls++;
      throw new DependencyError('kafka', 'broker unreachable');
    }, fast).catch((e: unknown) => e);
    expect(calls).toBe(4);
    expect(error).toBeInstanceOf(DependencyError);
    expect((error as Error).message).toBe('test op: gave up after 4 attempts: DependencyError: kafka: broker unreachable');
    expect((error as Error).cause).toBeInstanceOf(DependencyError);
  });

  it('stops at once on bail', async () => {
    let calls = 0;
    await expect(
      retry(async (_attempt, bail) => {
        calls++;
        bail(new Error('stop'));
      }, fast),
    ).rejects.toThrow('stop');
    expect(calls).toBe(1);
  });

  it('caps the backoff at maxDelayMs', async () => {
    const delays: number[] = [];
    await retry(async () => {
      throw new DependencyError('x', 'y');
    }, { attempts: 6, initialDelayMs: 100, maxDelayMs: 250, what: 'w', random: () => 1, onRetry: (_e, _a, d) => delays.push(d) }).catch(() => {});
    expect(delays).toEqual([100, 200, 250, 250, 250]);
  }, 10_000);
});

describe('error tree', () => {
  it('judges library errors by their own retriable flag and transient socket codes', () => {
    expect(isRetriable(Object.assign(new Error('x'), { retriable: true }))).toBe(true);
    expect(isRetriable(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isRetriable(new TypeError('undefined is not a function'))).toBe(false);
    expect(isRetriable(new BackboneError('x', { retriable: true }))).toBe(true);
  });

  it('describes the cause chain in one line', () => {
    const e = new DependencyError('clickhouse', 'insert failed', { cause: new Error('socket hang up') });
    expect(describeError(e)).toBe('DependencyError: clickhouse: insert failed <- Error: socket hang up');
  });
});
