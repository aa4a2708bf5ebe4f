import type { ServerName } from './types.ts';

/** What went wrong, so a caller (the CLI) can map a failure to advice without parsing text. */
export type StackErrorCode =
  | 'FAILED'
  | 'PREREQUISITE_MISSING'
  | 'INSTALL_FAILED'
  | 'PORT_IN_USE'
  | 'START_FAILED'
  | 'NOT_READY'
  | 'STOP_FAILED'
  | 'LOCKED'
  | 'INVALID_OPTIONS';

export interface StackErrorDetails {
  code?: StackErrorCode;
  server?: ServerName;
  port?: number;
  cause?: unknown;
}

/** Every failure of the stack manager; the message is written for the person at the terminal. */
export class StackError extends Error {
  readonly code: StackErrorCode;
  readonly server: ServerName | undefined;
  readonly port: number | undefined;

  constructor(message: string, details: StackErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'StackError';
    this.code = details.code ?? 'FAILED';
    this.server = details.server;
    this.port = details.port;
  }
}
