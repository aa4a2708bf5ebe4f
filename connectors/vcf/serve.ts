/**
 * `backbone vcf serve`: the HTTP upload endpoint. `POST /vcf` with the VCF (plain or gzip/bgzip) as
 * the request body, streamed to a private temporary file (never held in memory), then published as
 * `backbone vcf publish` does. Publishers authenticate with a bearer token from
 * BACKBONE_VCF_UPLOAD_TOKENS (compared in constant time); the answer is JSON:
 *   200 summary · 401 missing/unknown token · 413 larger than BACKBONE_VCF_UPLOAD_MAX_BYTES ·
 *   415 not a VCF media type · 422 not a readable VCF (with the reason) · 503 Kafka/registry down.
 * Query: ?lab=NAME (performing lab), ?name=FILE (original file name to announce; withheld otherwise).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import type { Config } from '../../platform/config.ts';
import { BackboneError, InvalidInputError, describeError } from '../../platform/errors.ts';
import { createKafka } from '../../platform/kafka/kafkajs.ts';
import { Lifecycle } from '../../platform/lifecycle.ts';
import { createLogger, type Logger } from '../../platform/log.ts';
import { startTelemetry } from '../../platform/telemetry.ts';
import type { ProducerPort } from '../../platform/kafka/port.ts';
import { sampleMapping } from './cli.ts';
import { UploadTooLargeError, publishVcf, spool } from './runner.ts';
import type { SampleMapping } from './samples.ts';

export const UPLOAD_MEDIA_TYPES = ['text/vcf', 'text/x-vcf', 'text/plain', 'application/gzip', 'application/x-gzip', 'application/x-bgzip', 'application/octet-stream'];

interface Publisher {
  client: string;
  digest: Buffer;
}

/** Parses CLIENT=TOKEN entries; tokens are kept only as SHA-256 digests (fixed length for the comparison). */
export function publishers(entries: readonly string[]): Publisher[] {
  return entries.map((e) => {
    const at = e.indexOf('=');
    return { client: e.slice(0, at), digest: createHash('sha256').update(e.slice(at + 1)).digest() };
  });
}

/** The client a bearer token belongs to, comparing against every known token in constant time. */
export function authenticate(header: string | undefined, known: readonly Publisher[]): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (m === null) return undefined;
  const digest = createHash('sha256').update(m[1] ?? '').digest();
  let found: string | undefined;
  for (const p of known) if (timingSafeEqual(digest, p.digest) && found === undefined) found = p.client;
  return found;
}

export interface UploadServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function startUploadServer(
  deps: { config: Config; log: Logger; producer: ProducerPort },
  mapping: SampleMapping,
  options: { host?: string; port?: number } = {},
): Promise<UploadServer> {
  const { config, log, producer } = deps;
  const known = publishers(config.vcfUploadTokens);
  if (known.length === 0) throw new InvalidInputError('no publishers configured: set BACKBONE_VCF_UPLOAD_TOKENS=CLIENT=TOKEN[,...] (tokens of 32+ characters)');
  const limit = config.vcfUploadMaxBytes;
  // One publication at a time keeps memory constant; uploads wait their turn after being spooled.
  let queue: Promise<unknown> = Promise.resolve();

  const reply = (res: ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void => {
    if (res.headersSent) return;
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(`${JSON.stringify(body)}\n`);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://upload');
    if (req.method === 'GET' && url.pathname === '/healthz') return reply(res, 200, { status: 'ok' });
    if (url.pathname !== '/vcf') return reply(res, 404, { error: 'not found', reason: 'POST the VCF to /vcf' });
    if (req.method !== 'POST') return reply(res, 405, { error: 'method not allowed', reason: 'POST the VCF to /vcf' }, { allow: 'POST' });
    const client = authenticate(req.headers.authorization, known);
    if (client === undefined) {
      return reply(res, 401, { error: 'unauthorized', reason: req.headers.authorization === undefined ? 'missing bearer token' : 'unknown bearer token' }, {
        'www-authenticate': 'Bearer realm="backbone-vcf"',
      });
    }
    const mediaType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (!UPLOAD_MEDIA_TYPES.includes(mediaType)) {
      return reply(res, 415, { error: 'unsupported media type', reason: `send the VCF as the body with Content-Type ${UPLOAD_MEDIA_TYPES.slice(0, 2).join(' or ')} (gzip: application/gzip); got '${mediaType || 'none'}'` });
    }
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > limit) {
      res.setHeader('connection', 'close');
      return reply(res, 413, { error: 'payload too large', reason: `the upload is ${declared} bytes; the limit is ${limit} bytes` });
    }
    let spooled: Awaited<ReturnType<typeof spool>> | undefined;
    try {
      spooled = await spool(req, limit);
      const file = spooled.file;
      const name = url.searchParams.get('name');
      const run = queue.then(() =>
        publishVcf({ config, log, producer }, file, {
          mapping,
          lab: url.searchParams.get('lab'),
          fileName: name,
          submittedBy: client,
        }),
      );
      queue = run.catch(() => {});
      const s = await run;
      reply(res, 200, {
        sourceId: `sha256:${s.sha256}`,
        sha256: s.sha256,
        assembly: s.assembly,
        records: s.records,
        samples: s.samples,
        events: s.events,
        calls: s.calls,
        deadLettered: s.deadLettered,
        skippedContigRecords: s.skippedContigRecords,
        unmappedSamples: s.unmappedSamples,
        pgx: s.pgx,
      });
    } catch (error) {
      if (error instanceof UploadTooLargeError) {
        res.setHeader('connection', 'close');
        reply(res, 413, { error: 'payload too large', reason: error.message });
        req.destroy();
      } else if (error instanceof InvalidInputError) {
        reply(res, 422, { error: 'invalid VCF', reason: spooled === undefined ? error.message : error.message.replace(`${spooled.file}: `, '') });
      } else if (error instanceof BackboneError && error.retriable) {
        reply(res, 503, { error: 'unavailable', reason: describeError(error) }, { 'retry-after': '30' });
      } else {
        log.error({ err: describeError(error) }, 'vcf upload failed');
        reply(res, 500, { error: 'internal error' });
      }
    } finally {
      if (spooled !== undefined) await rm(spooled.dir, { recursive: true, force: true });
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.error({ err: describeError(error) }, 'vcf upload handler failed');
      reply(res, 500, { error: 'internal error' });
    });
  });
  server.requestTimeout = 0; // large uploads take their time; the size limit bounds them
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? config.vcfUploadPort, options.host ?? config.vcfUploadHost, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    server,
    url: `http://${address.address}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

export async function serveCommand(args: string[], config: Config): Promise<number> {
  const { values } = parseArgs({ args, options: { samples: { type: 'string' } } });
  const mapping = await sampleMapping(config, values.samples);
  const log = createLogger({ level: config.logLevel, name: 'vcf-upload' });
  const life = new Lifecycle(log);
  life.add('telemetry', await startTelemetry(config, 'vcf-upload'), (stop) => stop());
  const producer = life.add('producer', await createKafka(config, log, '-vcf-upload').producer({ compression: 'lz4' }), (p) => p.close());
  const server = life.add('http server', await startUploadServer({ config, log, producer }, mapping), (s) => s.close());
  console.error(`VCF upload endpoint: POST ${server.url}/vcf (bearer token; limit ${config.vcfUploadMaxBytes} bytes)`);
  life.stopOnSignals(() => process.exit(0));
  await new Promise(() => {});
  return 0;
}
