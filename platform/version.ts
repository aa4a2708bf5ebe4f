import { readFileSync } from 'node:fs';
import { fromRoot } from './paths.ts';

/** The backbone's version, recorded as pipelineVersion in every event's lineage. */
export const PIPELINE_VERSION: string = (
  JSON.parse(readFileSync(fromRoot('package.json'), 'utf8')) as { version: string }
).version;
