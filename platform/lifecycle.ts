/**
 * Composition-root helpers: resources are registered as they start and closed in reverse order on
 * SIGTERM/SIGINT (or when the caller stops), each close given a bounded time.
 */
import type { Logger } from './log.ts';
import { describeError } from './errors.ts';

export class Lifecycle {
  private readonly closers: { name: string; close: () => Promise<void> }[] = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly log: Logger) {}

  /** Registers something to close on shutdown; returns the resource for chaining. */
  add<T>(name: string, resource: T, close: (resource: T) => Promise<void>): T {
    this.closers.push({ name, close: () => close(resource) });
    return resource;
  }

  /** Closes everything in reverse start order; safe to call more than once. */
  stop(timeoutMs = 15_000): Promise<void> {
    this.stopping ??= (async () => {
      for (const { name, close } of [...this.closers].reverse()) {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            this.log.warn({ resource: name, timeoutMs }, 'close timed out');
            resolve();
          }, timeoutMs);
        });
        await Promise.race([close().catch((error: unknown) => this.log.warn({ resource: name, err: describeError(error) }, 'close failed')), timeout]);
        clearTimeout(timer);
      }
    })();
    return this.stopping;
  }

  /** Stops on the first SIGTERM/SIGINT; a second signal exits at once. */
  stopOnSignals(onStopped: () => void = () => process.exit(0)): void {
    let received = false;
    const handler = (signal: NodeJS.Signals): void => {
      if (received) process.exit(130);
      received = true;
      this.log.info({ signal }, 'shutting down');
      void this.stop().then(onStopped);
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  }
}
