#!/usr/bin/env node
// The CLI runs from .build/ (compiled by `npm run build`, which npm ci runs) while that build is
// fresh; otherwise the TypeScript sources run through tsx, so an edited checkout needs no build
// step and never runs stale code.
import { buildIsFresh } from './build-state.js';

const ROOT = new URL('../', import.meta.url);

if (buildIsFresh(ROOT)) {
  process.setSourceMapsEnabled(true); // stack traces name the TypeScript sources
  await import(new URL('.build/main.mjs', ROOT).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
}
