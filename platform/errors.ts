/**
 * The project's error tree. Every error says whether retrying can help (`retriable`) and keeps
 * the error that caused it (`cause`), so a processor can choose retry or dead-letter from one flag.
 */
export interface BackboneErrorOptions {
  retriable?: boolean;
  cause?: unknown;
}

export class BackboneError extends Error {
  readonly retriable: boolean;

  constructor(message: string, options: BackboneErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
  }
}

/** A configuration value is missing or malformed. Never retriable: the operator must fix it. */
export class ConfigError extends BackboneError {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`config ${key}: ${message}`, { retriable: false });
  }
}

/** Input that can never be processed as it is (bad bytes, schema mismatch, invalid field). */
export class InvalidInputError extends BackboneError {
  constructor(message: string, options: { cause?: unknown; detail?: Record<string, unknown> } = {}) {
    super(message, { retriable: false, cause: options.cause });
    this.detail = options.detail ?? {};
  }
  readonly detail: Record<string, unknown>;
}

/** A server we depend on (Kafka, registry, ClickHouse) failed or is unreachable. Usually retriable. */
export class DependencyError extends BackboneError {
  constructor(
    readonly dependency: string,
    message: string,
    options: BackboneErrorOptions = {},
  ) {
    super(`${dependency}: ${message}`, { retriable: options.retriable ?? true, cause: options.cause });
  }
}

/** Errors from libraries are judged by what they say of themselves; unknown errors are not retried. */
export function isRetriable(error: unknown): boolean {
  if (error instanceof BackboneError) return error.retriable;
  if (typeof error === 'object' && error !== null && 'retriable' in error) {
    return error.retriable === true;
  }
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = error.code;
    return typeof code === 'string' && TRANSIENT_SOCKET_CODES.has(code);
  }
  return false;
}

const TRANSIENT_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** One line for logs and dead-letter reasons: class name and message, cause chain included. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    if (current instanceof Error) {
      parts.push(`${current.name}: ${current.message}`);
      current = current.cause;
    } else {
      parts.push(typeof current === 'string' ? current : JSON.stringify(current));
      break;
    }
  }
  return parts.join(' <- ');
}

export function errorClass(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
