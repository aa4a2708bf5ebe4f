export interface StackOptions {
  /** Repository root (absolute); cache goes to <root>/.stack/cache, runtime files to <root>/.stack/run. */
  root: string;
  kafkaPort: number;
  kafkaControllerPort: number;
  registryPort: number;
  clickhousePort: number;
  /** Progress messages for the user (default: console.error). */
  log?: (line: string) => void;
}

export type ServerName = 'kafka' | 'registry' | 'clickhouse';

export interface ServerStatus {
  name: ServerName;
  state: 'running' | 'stopped' | 'stale-pid';
  pid?: number;
  port: number;
  url: string;
  logFile: string;
}

/** Start order; `down` walks it backwards. */
export const SERVER_ORDER: readonly ServerName[] = ['kafka', 'registry', 'clickhouse'];
