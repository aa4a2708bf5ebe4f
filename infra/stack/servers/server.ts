import type { StackPaths } from '../paths.ts';
import type { ServerName, StackOptions } from '../types.ts';

export interface ServerContext {
  opts: StackOptions;
  paths: StackPaths;
  log: (line: string) => void;
}

export interface LaunchSpec {
  command: string;
  args: string[];
  cwd: string;
}

/** What the stack manager needs to know to run one server; the lifecycle itself is shared. */
export interface ServerDef {
  name: ServerName;
  /** The port clients use. */
  port: (opts: StackOptions) => number;
  /** Every port the server binds (checked free before start), client port first. */
  ports: (opts: StackOptions) => number[];
  /** What a client connects to: a bootstrap address for Kafka, a base URL for the others. */
  url: (opts: StackOptions) => string;
  /** Writes config files and one-time storage setup; runs before every start. */
  prepare: (ctx: ServerContext) => Promise<void>;
  launch: (ctx: ServerContext) => LaunchSpec;
  /** One cheap readiness probe; must not throw. */
  isReady: (ctx: ServerContext) => Promise<boolean>;
  /** Runs after the first successful probe of a fresh start. */
  afterReady?: (ctx: ServerContext) => Promise<void>;
}
