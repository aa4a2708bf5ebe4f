/**
 * Starts the real stack once per integration run: the native one by default (installing it on
 * first use), testcontainers when BACKBONE_STACK=testcontainers, or whatever is configured when
 * BACKBONE_STACK=external. Only what this run started is stopped at the end.
 */
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../../platform/config.ts';
import * as stack from '../../infra/stack/index.ts';
import { stackOptions } from '../../cli/stack.ts';

export interface StackEndpoints {
  kafkaBrokers: string;
  registryUrl: string;
  clickhouseUrl: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackEndpoints;
  }
}

export default async function globalSetup(project: TestProject): Promise<() => Promise<void>> {
  const config = loadConfig();
  const fromConfig: StackEndpoints = {
    kafkaBrokers: config.kafkaBrokers.join(','),
    registryUrl: config.registryUrl,
    clickhouseUrl: config.clickhouseUrl,
  };
  if (config.stackMode === 'external') {
    project.provide('stack', fromConfig);
    return async () => {};
  }
  if (config.stackMode === 'testcontainers') {
    const { startWithTestcontainers } = await import('../../infra/stack/testcontainers.ts');
    const started = await startWithTestcontainers();
    project.provide('stack', { kafkaBrokers: started.kafkaBrokers, registryUrl: started.registryUrl, clickhouseUrl: started.clickhouseUrl });
    return () => started.stop();
  }
  const opts = { ...stackOptions(config), log: (line: string) => console.error(`[stack] ${line}`) };
  const before = await stack.status(opts);
  const wasRunning = before.every((s) => s.state === 'running');
  await stack.up(opts);
  project.provide('stack', fromConfig);
  return async () => {
    if (!wasRunning) await stack.down(opts);
  };
}
