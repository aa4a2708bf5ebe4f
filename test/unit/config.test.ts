import { describe, expect, it } from 'vitest';
import { describeConfig, loadConfig } from '../../platform/config.ts';
import { ConfigError } from '../../platform/errors.ts';

describe('config', () => {
  it('has working defaults, with client URLs derived from the stack ports', () => {
    const config = loadConfig({ BACKBONE_KAFKA_PORT: '19092', BACKBONE_REGISTRY_PORT: '18081', BACKBONE_CLICKHOUSE_PORT: '18123' });
    expect(config.kafkaBrokers).toEqual(['127.0.0.1:19092']);
    expect(config.registryUrl).toBe('http://127.0.0.1:18081/apis/ccompat/v7');
    expect(config.clickhouseUrl).toBe('http://127.0.0.1:18123');
    expect(config.topicPrefix).toBe('');
    expect(config.sinkBatchMaxMs).toBe(250);
  });

  it('lets explicit settings win over derived defaults', () => {
    const config = loadConfig({ BACKBONE_KAFKA_PORT: '19092', BACKBONE_KAFKA_BROKERS: 'kafka-1:9092, kafka-2:9092' });
    expect(config.kafkaBrokers).toEqual(['kafka-1:9092', 'kafka-2:9092']);
  });

  it('rejects an unknown BACKBONE_ setting, naming it', () => {
    expect(() => loadConfig({ BACKBONE_KAFKA_BROKER: 'x:1' })).toThrow(/config BACKBONE_KAFKA_BROKER: unknown setting; known settings are: .*BACKBONE_KAFKA_BROKERS/);
  });

  it('ignores variables that are not ours', () => {
    expect(() => loadConfig({ HOME: '/root', KAFKA_BROKERS: 'x' })).not.toThrow();
  });

  it.each([
    ['BACKBONE_KAFKA_PORT', '70000', /expected a TCP port \(1-65535\), got '70000'/],
    ['BACKBONE_KAFKA_BROKERS', 'localhost', /expected a comma-separated list of host:port, got 'localhost'/],
    ['BACKBONE_CLICKHOUSE_URL', 'ftp://x', /expected an http\(s\) URL/],
    ['BACKBONE_CLICKHOUSE_DATABASE', 'drop table;', /expected an identifier/],
    ['BACKBONE_LOG_LEVEL', 'loud', /expected one of fatal, error, warn, info, debug, trace, silent, got 'loud'/],
    ['BACKBONE_SINK_BATCH_SIZE', '0', /expected a positive integer, got '0'/],
  ])('names the key and the expected form for a bad %s', (key, value, message) => {
    let error: unknown;
    try {
      loadConfig({ [key]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).key).toBe(key);
    expect((error as Error).message).toMatch(message);
  });

  it('rejects unknown override keys', () => {
    expect(() => loadConfig({}, { kafkaPorts: '1' } as never)).toThrow(/config kafkaPorts: unknown setting/);
  });

  it('masks secrets when described', () => {
    const rows = describeConfig(loadConfig({ BACKBONE_CLICKHOUSE_PASSWORD: 's3cret' }));
    const row = rows.find((r) => r.env === 'BACKBONE_CLICKHOUSE_PASSWORD');
    expect(row?.value).toBe('***');
    expect(JSON.stringify(rows)).not.toContain('s3cret');
  });

  it('returns a frozen object', () => {
    expect(Object.isFrozen(loadConfig({}))).toBe(true);
  });
});
