/**
 * Turns a plain JSON value into a valid Avro value of a catalogue topic: fields left out take their
 * schema defaults, and anything that still does not fit is named by its path in one clear error.
 */
import avro from 'avsc';
import { entry } from './catalogue.ts';
import { InvalidInputError } from './errors.ts';

const types = new Map<string, avro.Type>();

export function valueType(topic: string): avro.Type {
  let type = types.get(topic);
  if (type === undefined) {
    type = avro.Type.forSchema(entry(topic).schema as avro.Schema);
    types.set(topic, type);
  }
  return type;
}

/**
 * Paths that make `value` invalid for `type`, with what was found there by kind only, e.g.
 * "calls.0.pos (got string)": values are never quoted, since they may be patient identifiers.
 */
export function invalidPaths(type: avro.Type, value: unknown): string[] {
  const problems: string[] = [];
  type.isValid(value, {
    errorHook: (path, v) => problems.push(`${path.join('.') || '(root)'} (${v === undefined ? 'missing' : `got ${v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v}`})`),
  });
  return problems;
}

export function conform<T>(topic: string, value: unknown): T {
  const type = valueType(topic);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidInputError(`expected a JSON object for ${entry(topic).recordName}`);
  }
  let filled: unknown;
  try {
    filled = type.clone(value, {});
  } catch {
    filled = value; // clone stops at the first problem; isValid below lists them all
  }
  const problems = invalidPaths(type, filled);
  if (problems.length > 0) {
    throw new InvalidInputError(`not a valid ${entry(topic).recordName}: ${problems.slice(0, 5).join(', ')}${problems.length > 5 ? ` (+${problems.length - 5} more)` : ''}`);
  }
  return filled as T;
}
