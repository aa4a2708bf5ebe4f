/** Browser lane: Chromium is found or installed (infra/browser.ts) before any browser test runs. */
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../../platform/config.ts';
import { ensureChromium } from '../../infra/browser.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    chromium: string;
  }
}

export default function setup(project: TestProject): void {
  project.provide('chromium', ensureChromium(loadConfig()));
}
