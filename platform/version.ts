import { readFileSync } from 'node:fs';

/** The backbone's version, recorded as pipelineVersion in every event's lineage. */
export const PIPELINE_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
