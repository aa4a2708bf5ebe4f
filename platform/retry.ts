import { isRetriable, describeError, DependencyError } from './errors.ts';

export interface RetryOptions {
  /** Attempts in all, the first included. */
  attempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** Label for the final error, e.g. "clickhouse insert". */
  what: string;
  /** Called before each wait, e.g. to log. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /** Stops waiting early (shutdown). */
  signal?: AbortSignal;
  /** Random source, injectable so tests are deterministic. */
  random?: () => number;
}

export const DEFAULT_RETRY: Omit<RetryOptions, 'what'> = {
  attempts: 6,
  initialDelayMs: 200,
  maxDelayMs: 5_000,
};

/** Thrown by `bail` to stop retrying at once, whatever the error says of itself. */
class Bail extends Error {
  constructor(readonly error: unknown) {
    super('bail');
  }
}

/**
 * The one retry helper: exponential backoff with full jitter. Only retriable errors are retried;
 * a programmer error or invalid input fails on the first attempt. When attempts run out the last
 * error is wrapped so the message says what was tried and how often.
 */
export async function retry<T>(
  fn: (attempt: number, bail: (error: unknown) => never) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const random = options.random ?? Math.random;
  const bail = (error: unknown): never => {
    throw new Bail(error);
  };
  let lastError: unknown;
  for (let attempt = 1; attempt <= options.attempts; attempt++) {
    try {
      return await fn(attempt, bail);
    } catch (error) {
      if (error instanceof Bail) throw error.error;
      lastError = error;
      if (!isRetriable(error) || attempt === options.attempts) break;
      const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** (attempt - 1));
      const delayMs = Math.round(ceiling * (0.5 + random() / 2));
      options.onRetry?.(error, attempt, delayMs);
      await sleep(delayMs, options.signal);
      if (options.signal?.aborted) break;
    }
  }
  if (!isRetriable(lastError)) throw lastError;
  throw new DependencyError(
    options.what,
    `gave up after ${options.attempts} attempts: ${describeError(lastError)}`,
    { retriable: true, cause: lastError },
  );
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
