import { join } from 'node:path';
import type { ServerName, StackOptions } from './types.ts';
import { fromRoot } from '../../platform/paths.ts';

/** Committed files (pom, launcher source, config templates) live beside this folder in infra/. */
export const INFRA_DIR = fromRoot('infra');

/** Every path the stack manager touches, derived from the repository root only. */
export interface StackPaths {
  cache: string;
  markers: string;
  installLogs: string;
  m2: string;
  kafkaLibs: string;
  registryDownload: string;
  registryApp: string;
  chdbPrefix: string;
  chdbLib: string;
  launcher: string;
  run: string;
  logs: string;
  data: string;
  conf: string;
}

export function stackPaths(opts: Pick<StackOptions, 'root'>): StackPaths {
  const cache = join(opts.root, '.stack', 'cache');
  const run = join(opts.root, '.stack', 'run');
  const chdbPrefix = join(cache, 'chdb');
  return {
    cache,
    markers: join(cache, 'markers'),
    installLogs: join(cache, 'install-logs'),
    m2: join(cache, 'm2'),
    kafkaLibs: join(cache, 'kafka', 'libs'),
    registryDownload: join(cache, 'registry', 'download'),
    registryApp: join(cache, 'registry', 'app'),
    chdbPrefix,
    chdbLib: join(chdbPrefix, 'node_modules', '@chdb', 'lib-linux-x64-gnu', 'libchdb.so'),
    launcher: join(cache, 'clickhouse', 'launcher'),
    run,
    logs: join(run, 'logs'),
    data: join(run, 'data'),
    conf: join(run, 'conf'),
  };
}

export const pidFile = (p: StackPaths, name: ServerName): string => join(p.run, `${name}.pid`);
export const logFile = (p: StackPaths, name: ServerName): string => join(p.logs, `${name}.log`);
export const dataDir = (p: StackPaths, name: ServerName): string => join(p.data, name);
export const confDir = (p: StackPaths, name: ServerName): string => join(p.conf, name);
