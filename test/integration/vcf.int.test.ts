import { copyFile, mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPICS, topicName } from '../../platform/catalogue.ts';
import { DLQ_HEADERS } from '../../platform/dead-letter.ts';
import { blockCalls, type DeadLetter, type GenotypeCallSet, type SourceDocumentReceived, type VariantBlock } from '../../platform/events.ts';
import { queryRows } from '../../platform/clickhouse/client.ts';
import { createSerde } from '../../platform/serde.ts';
import { startVariantSink } from '../../services/variant-sink/runner.ts';
import { publishVcf } from '../../connectors/vcf/runner.ts';
import { parseSampleMap } from '../../connectors/vcf/samples.ts';
import { startUploadServer } from '../../connectors/vcf/serve.ts';
import { scanDropFolder, type Seen } from '../../connectors/vcf/watch.ts';
import { isolatedEnv, type TestEnv } from '../support/env.ts';
import { collect, waitFor } from '../support/kafka.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/vcf/', import.meta.url));
const TOKEN = 'upload-token-for-the-integration-test-0123456789';

describe('VCF connector on the real stack', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await isolatedEnv('vcf', {
      BACKBONE_VCF_PSEUDONYM_KEY: 'integration-key',
      BACKBONE_VCF_UPLOAD_TOKENS: `lab-nord=${TOKEN}`,
      BACKBONE_VCF_UPLOAD_MAX_BYTES: '3000',
    });
  });
  afterAll(async () => env.close());

  const decodeAll = async <T>(topic: string, count: number): Promise<{ key: string; value: T }[]> => {
    const serde = createSerde(env.config);
    const records = await collect(env.kafka, topicName(topic, env.config.topicPrefix), count);
    return Promise.all(records.map(async (r) => ({ key: r.key?.toString() ?? '', value: await serde.decode<T>(topic, r.value) })));
  };

  it('publishes a multi-sample VCF as decoded genotype events, dead-letters bad records, announces the file; a re-send repeats the ids', async () => {
    const mapping = parseSampleMap(await readFile(path.join(FIXTURES, 'samples.tsv'), 'utf8'));
    const file = path.join(FIXTURES, 'multisample-grch38.vcf');
    const summary = await publishVcf({ config: env.config, log: env.log, kafka: env.kafka }, file, { mapping, lab: 'Lab Nord' });
    expect(summary).toMatchObject({ assembly: 'GRCh38', samples: 4, deadLettered: 5, unmappedSamples: ['HG00096'], skippedContigRecords: 1 });
    expect(summary.variantBlocks).toBeGreaterThan(0);
    const perPatient = summary.events - summary.variantBlocks;
    expect(perPatient).toBeGreaterThan(0);

    const events = await decodeAll<GenotypeCallSet>(TOPICS.genotypeCalls, perPatient);
    expect(events).toHaveLength(perPatient);
    const blocks = await decodeAll<VariantBlock>(TOPICS.variantBlocks, summary.variantBlocks);
    expect(blocks).toHaveLength(summary.variantBlocks);
    for (const { key, value } of [...events, ...blocks]) {
      expect(key).toBe('sites' in value ? value.eventId : value.patientId);
      expect(value.lineage).toMatchObject({ sourceSha256: summary.sha256, connector: 'vcf', lab: 'Lab Nord' });
      expect(value.assembly).toBe('GRCh38');
    }
    const blockCallList = blocks.flatMap((b) => [...blockCalls(b.value)]);
    expect(events.reduce((n, e) => n + e.value.calls.length, 0) + blockCallList.length).toBe(summary.calls);
    const cyp2c19 = events.filter((e) => e.value.patientId === 'PT-000101').flatMap((e) => e.value.calls).find((c) => c.pos === 94781859);
    expect(cyp2c19).toMatchObject({ chrom: '10', ref: 'G', alts: ['A'], gt: [1, 0], phased: true, phaseSet: 94761900, variantId: 'rs4244285' });
    const mitochondrial = blockCallList.find((c) => c.sample.patientId === 'PT-000102' && c.call.chrom === 'MT' && c.call.pos === 73);
    expect(mitochondrial?.call).toMatchObject({ gt: [1], depth: 1987, gene: null });

    const serde = createSerde(env.config);
    const dead = await collect(env.kafka, topicName(TOPICS.deadLetter, env.config.topicPrefix), 5);
    const reasons = dead.map((d) => d.headers[DLQ_HEADERS.reason]?.toString() ?? '').sort();
    expect(reasons.map((r) => /line (\d+)/.exec(r)?.[1])).toEqual(['37', '38', '44', '45', '46']);
    const letter = await serde.decode<DeadLetter>(TOPICS.deadLetter, dead[0]?.value ?? null);
    expect(letter.sourceRef).toMatch(new RegExp(`^sha256:${summary.sha256}#line=\\d+$`));
    expect(letter.originalValue?.toString()).toMatch(/^chr/);

    const [doc] = await collect(env.kafka, topicName(TOPICS.sourceDocuments, env.config.topicPrefix), 1);
    const announced = await serde.decode<SourceDocumentReceived>(TOPICS.sourceDocuments, doc?.value ?? null);
    expect(announced).toMatchObject({ sourceKind: 'VCF', sha256: summary.sha256, eventCount: summary.events, deadLettered: 5, fileName: 'multisample-grch38.vcf' });

    await publishVcf({ config: env.config, log: env.log, kafka: env.kafka }, file, { mapping });
    const twice = await decodeAll<GenotypeCallSet>(TOPICS.genotypeCalls, 2 * perPatient);
    expect(twice).toHaveLength(2 * perPatient);
    expect(new Set(twice.map((e) => e.value.eventId)).size).toBe(perPatient);
    const blocksTwice = await decodeAll<VariantBlock>(TOPICS.variantBlocks, 2 * summary.variantBlocks);
    expect(new Set(blocksTwice.map((e) => e.value.eventId))).toEqual(new Set(blocks.map((b) => b.value.eventId)));

    // Hashed on a worker while scanned (what large files get): the same ids, lineage and dead letters.
    const third = await publishVcf({ config: env.config, log: env.log, kafka: env.kafka }, file, { mapping, lab: 'Lab Nord', hashWhileScanningFrom: 0 });
    expect(third).toMatchObject({ sha256: summary.sha256, events: summary.events, calls: summary.calls, deadLettered: 5 });
    const thrice = await decodeAll<GenotypeCallSet>(TOPICS.genotypeCalls, 3 * perPatient);
    expect(new Set(thrice.map((e) => e.value.eventId)).size).toBe(perPatient);
    for (const e of thrice) expect(e.value.lineage.sourceSha256).toBe(summary.sha256);
    const blocksThrice = await decodeAll<VariantBlock>(TOPICS.variantBlocks, 3 * summary.variantBlocks);
    expect(new Set(blocksThrice.map((e) => e.value.eventId)).size).toBe(summary.variantBlocks);
    const deadThrice = await collect(env.kafka, topicName(TOPICS.deadLetter, env.config.topicPrefix), 15);
    expect(deadThrice).toHaveLength(15);

    // Both kinds land in the variant store, one row per call, the re-sent copies deduplicated.
    const sink = await startVariantSink(env.config, env.log);
    try {
      const [stored] = await waitFor(
        'every call of the file in variant_calls_current',
        () => queryRows<{ n: string; patients: string }>(env.clickhouse, 'SELECT count() AS n, uniqExact(patient_id) AS patients FROM variant_calls_current'),
        (r) => Number(r[0]?.n ?? 0) >= summary.calls,
      );
      expect(Number(stored?.n)).toBe(summary.calls);
      expect(Number(stored?.patients)).toBe(3);
      const [row] = await queryRows<{ gt: (number | null)[]; depth: number; zygosity: string; record_ref: string; source_sha256: string }>(
        env.clickhouse,
        "SELECT gt, depth, zygosity, record_ref, source_sha256 FROM variant_calls_current WHERE patient_id = 'PT-000102' AND chrom = 'MT' AND pos = 73",
      );
      expect(row).toEqual({ gt: [1], depth: 1987, zygosity: 'hemi_alt', record_ref: mitochondrial?.call.recordRef, source_sha256: summary.sha256 });
    } finally {
      await sink.stop();
    }
  });

  it('accepts uploads over HTTP from an authenticated publisher only, within the size limit', async () => {
    const producer = await env.kafka.producer();
    const server = await startUploadServer({ config: env.config, log: env.log, producer }, { kind: 'keyed-hash', key: 'integration-key' }, { port: 0 });
    try {
      const body = await readFile(path.join(FIXTURES, 'grch37-v41.vcf.gz'));
      const post = (headers: Record<string, string>, payload: Buffer = body): Promise<Response> =>
        fetch(`${server.url}/vcf?lab=Lab%20Sud`, { method: 'POST', headers, body: payload });
      expect((await post({ 'content-type': 'application/gzip' })).status).toBe(401);
      const wrong = await post({ 'content-type': 'application/gzip', authorization: `Bearer ${TOKEN.replace('0', 'X')}` });
      expect(wrong.status).toBe(401);
      expect(((await wrong.json()) as { reason: string }).reason).toBe('unknown bearer token');
      const json = await post({ 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` });
      expect(json.status).toBe(415);
      const big = await post({ 'content-type': 'text/x-vcf', authorization: `Bearer ${TOKEN}` }, await readFile(path.join(FIXTURES, 'multisample-grch38.vcf')));
      expect(big.status).toBe(413);
      const notVcf = await post({ 'content-type': 'text/plain', authorization: `Bearer ${TOKEN}` }, await readFile(path.join(FIXTURES, 'not-a-vcf.txt')));
      expect(notVcf.status).toBe(422);
      expect(((await notVcf.json()) as { reason: string }).reason).toMatch(/not a VCF/);

      const ok = await post({ 'content-type': 'application/gzip', authorization: `Bearer ${TOKEN}` });
      expect(ok.status).toBe(200);
      const result = (await ok.json()) as { sha256: string; events: number; assembly: string; calls: number };
      expect(result).toMatchObject({ assembly: 'GRCh37', calls: 5 });
      const docs = await collect(env.kafka, topicName(TOPICS.sourceDocuments, env.config.topicPrefix), 2);
      const serde = createSerde(env.config);
      const announced = await Promise.all(docs.map((d) => serde.decode<SourceDocumentReceived>(TOPICS.sourceDocuments, d.value)));
      expect(announced.find((a) => a.sha256 === result.sha256)).toMatchObject({ submittedBy: 'lab-nord', lab: 'Lab Sud', fileName: null, mediaType: 'application/gzip' });
    } finally {
      await server.close();
      await producer.close();
    }
  });

  it('publishes settled files from a drop folder and moves them to done/ or failed/ with a reason', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'vcf-drop-'));
    await copyFile(path.join(FIXTURES, 'v43-crlf.vcf'), path.join(dir, 'run-42.vcf'));
    await copyFile(path.join(FIXTURES, 'truncated.vcf.gz'), path.join(dir, 'run-43.vcf.gz'));
    await copyFile(path.join(FIXTURES, 'samples.tsv'), path.join(dir, 'notes.tsv'));
    const producer = await env.kafka.producer();
    try {
      const deps = { config: env.config, log: env.log, producer };
      const seen: Seen = new Map();
      const options = { mapping: { kind: 'keyed-hash' as const, key: 'integration-key' } };
      expect(await scanDropFolder(deps, dir, options, seen, 60_000, 1_000)).toEqual([]); // not settled yet
      const outcomes = await scanDropFolder(deps, dir, options, seen, 60_000, 70_000);
      expect(outcomes.map((o) => [o.file, o.status])).toEqual([
        ['run-42.vcf', 'done'],
        ['run-43.vcf.gz', 'failed'],
      ]);
      expect(await readdir(dir)).toEqual(expect.arrayContaining(['notes.tsv', 'done', 'failed']));
      expect(await readdir(path.join(dir, 'done'))).toEqual(['run-42.vcf', 'run-42.vcf.summary.txt']);
      expect(await readFile(path.join(dir, 'failed', 'run-43.vcf.gz.reason.txt'), 'utf8')).toMatch(/^truncated bgzip file/);
    } finally {
      await producer.close();
    }
  });
});
