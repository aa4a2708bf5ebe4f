/**
 * Pure core of the events-file connector: JSON Lines of genotype call sets or PGx outside calls,
 * prepared by an integrator's own pipeline, become validated events with lineage and
 * deterministic ids. No I/O here.
 */
import { createHash } from 'node:crypto';
import { TOPICS } from '../../platform/catalogue.ts';
import { conform } from '../../platform/conform.ts';
import { InvalidInputError } from '../../platform/errors.ts';
import type { GenotypeCallSet, Lineage, PgxOutsideCall } from '../../platform/events.ts';

export const CONNECTOR = 'events-file';

export const PUBLISHABLE = {
  'genotype-calls': TOPICS.genotypeCalls,
  'outside-calls': TOPICS.outsideCalls,
} as const;
export type PublishableKind = keyof typeof PUBLISHABLE;

export interface SourceFacts {
  sha256: string;
  /** Default source id when a line does not name one. */
  sourceId: string;
  ingestedAt: number;
  pipelineVersion: string;
}

export type LineResult =
  | { ok: true; line: number; key: string; value: GenotypeCallSet | PgxOutsideCall }
  | { ok: false; line: number; error: InvalidInputError };

/** Lineage the connector vouches for; a line may name its own source id and lab. */
function lineage(given: unknown, facts: SourceFacts): Lineage {
  const g = typeof given === 'object' && given !== null ? (given as Partial<Lineage>) : {};
  return {
    sourceId: typeof g.sourceId === 'string' && g.sourceId !== '' ? g.sourceId : facts.sourceId,
    sourceSha256: facts.sha256,
    lab: typeof g.lab === 'string' ? g.lab : null,
    ingestedAt: facts.ingestedAt,
    connector: CONNECTOR,
    pipelineVersion: facts.pipelineVersion,
  };
}

/** Same file, same line: same id, so a re-sent file is recognised downstream. */
export function deterministicEventId(sha256: string, line: number): string {
  return createHash('sha256').update(`${sha256}:${line}`).digest('hex').slice(0, 32);
}

export function parseLine(text: string, line: number, kind: PublishableKind, facts: SourceFacts): LineResult | undefined {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return undefined;
  try {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch (error) {
      // The parser's message quotes the text around the error, which may be a patient id: keep the position only.
      const at = /position (\d+)/.exec((error as Error).message)?.[1];
      throw new InvalidInputError(`line ${line}: not JSON${at === undefined ? '' : ` (syntax error at character ${Number(at) + 1})`}`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new InvalidInputError(`line ${line}: expected a JSON object`);
    }
    const raw = json as Record<string, unknown>;
    const withLineage = {
      ...raw,
      eventId: typeof raw.eventId === 'string' && raw.eventId !== '' ? raw.eventId : deterministicEventId(facts.sha256, line),
      lineage: lineage(raw.lineage, facts),
    };
    const value = conformLine(kind, withLineage, line);
    if (value.patientId.trim() === '') throw new InvalidInputError(`line ${line}: patientId is empty`);
    return { ok: true, line, key: value.patientId, value };
  } catch (error) {
    if (error instanceof InvalidInputError) return { ok: false, line, error };
    throw error;
  }
}

function conformLine(kind: PublishableKind, value: unknown, line: number): GenotypeCallSet | PgxOutsideCall {
  try {
    const conformed = conform<GenotypeCallSet | PgxOutsideCall>(PUBLISHABLE[kind], value);
    if (kind === 'genotype-calls' && (conformed as GenotypeCallSet).calls.length === 0) {
      throw new InvalidInputError('calls is empty');
    }
    return conformed;
  } catch (error) {
    if (error instanceof InvalidInputError) throw new InvalidInputError(`line ${line}: ${error.message}`);
    throw error;
  }
}
