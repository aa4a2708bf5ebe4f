/**
 * Structured logs (pino, JSON lines on stderr). Patient data never belongs in a log line: fields
 * that can hold identifiers are redacted wherever they appear, and Kafka keys (patient ids) are
 * never logged by the platform code.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

/** Field names that may carry patient identifiers or raw clinical payloads. */
export const REDACTED_FIELDS = [
  'patientId',
  'patient',
  'sampleId',
  'sample',
  'mrn',
  'patientName',
  'givenName',
  'familyName',
  'birthDate',
  'key',
  'value',
  'originalKey',
  'originalValue',
  'payload',
  'patient_id',
  'sample_id',
] as const;

export function createLogger(options: { level: string; name: string; destination?: pino.DestinationStream }): Logger {
  const paths = REDACTED_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);
  return pino(
    {
      name: options.name,
      level: options.level,
      redact: { paths, censor: '[redacted]' },
      base: { service: options.name },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ fd: 2, sync: false }),
  );
}
