#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so a checkout needs no build step before `npx backbone`.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
