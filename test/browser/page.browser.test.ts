import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { alertEvent, profileEvent } from '../../bench/poc-events.ts';
import { createLocalIssuer, type LocalIssuer } from '../../platform/auth/jwt.ts';
import { TOPICS, topicName } from '../../platform/catalogue.ts';
import { createSerde } from '../../platform/serde.ts';
import { startPointOfCare, type PointOfCareHandle } from '../../services/point-of-care/runner.ts';
import { isolatedEnv, type TestEnv } from '../support/env.ts';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

describe('point-of-care page in headless Chromium', () => {
  let env: TestEnv;
  let poc: PointOfCareHandle;
  let idp: LocalIssuer;
  let browser: Browser;
  beforeAll(async () => {
    idp = await createLocalIssuer('https://idp.test');
    env = await isolatedEnv('page');
    const serde = createSerde(env.config);
    const producer = await env.kafka.producer();
    const genes = [
      profileEvent('PT-PAGE', 'CYP2C19', { diplotype: '*2/*2', phenotype: 'Poor Metabolizer' }, { lab: 'Genomics Core Lab', sourceId: 'reports/PT-PAGE.vcf' }),
      profileEvent('PT-PAGE', 'SLCO1B1', { diplotype: '*1/*5', phenotype: 'Decreased Function' }),
      profileEvent('PT-PAGE', 'DPYD', { diplotype: null, phenotype: null }),
    ];
    await producer.send(topicName(TOPICS.profiles, env.config.topicPrefix), await Promise.all(genes.map(async (p) => ({ key: `${p.patientId}|${p.gene}`, value: await serde.encode(TOPICS.profiles, p) }))));
    await producer.send(topicName(TOPICS.alerts, env.config.topicPrefix), [{ key: 'PT-PAGE', value: await serde.encode(TOPICS.alerts, alertEvent('PT-PAGE', 'ACTIVE', { profileIds: [genes[0]!.profileId] })) }]);
    await producer.close();
    poc = await startPointOfCare(env.config, env.log, { port: 0, userIssuers: [idp.trust()], instanceId: 'page' });
    browser = await chromium.launch({ executablePath: inject('chromium'), headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  });
  afterAll(async () => {
    await browser?.close();
    await poc?.stop();
    await env?.close();
  });

  it("shows a patient's genes, diplotypes, phenotypes, evidence, active alerts and pipeline health", async () => {
    const token = await idp.sign({ sub: 'dr-page', aud: 'backbone', roles: ['clinician'] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${poc.url}/#patient=PT-PAGE`);
    await page.fill('#token', token);
    await page.click('#load');
    const rows = page.locator('#profile tbody tr');
    await rows.nth(2).waitFor();
    expect(await rows.allInnerTexts()).toEqual([
      expect.stringMatching(/^CYP2C19\s+\*2\/\*2\s+Poor Metabolizer\s+—\s+CALLED\s+Genomics Core Lab · reports\/PT-PAGE\.vcf · KB cpic-2025\.1$/),
      expect.stringMatching(/^DPYD\s+not called\s+not determined\s+—\s+NOT_CALLED/),
      expect.stringMatching(/^SLCO1B1\s+\*1\/\*5\s+Decreased Function/),
    ]);
    const alert = page.locator('#alerts .alert');
    expect(await alert.count()).toBe(1);
    expect(await alert.getAttribute('class')).toBe('alert critical');
    expect(await alert.innerText()).toMatch(/clopidogrel — CYP2C19 Poor Metabolizer \(CPIC Strong\)[\s\S]*Avoid standard dose clopidogrel/);
    expect(await alert.locator('a').getAttribute('href')).toMatch(/^https:\/\/cpicpgx\.org\//);
    await page.locator('#lag tbody tr').first().waitFor();
    expect(await page.locator('#health-summary').innerText()).toMatch(/State loaded · 1 patients, 3 profiles, 1 active alerts/);
    expect(await page.locator('#lag tbody').innerText()).toContain('views-sink');
    expect(await page.locator('#dead tbody').innerText()).toMatch(/\(none\)\s+0/);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}poc-page.png`, fullPage: true });

    // A clinician without a valid token sees the refusal, not data.
    await page.fill('#token', 'not-a-token');
    await page.click('#load');
    await expect.poll(() => page.locator('#message').innerText()).toMatch(/Profile: token is not a JWS compact serialization/);
    await page.close();
  });
});
