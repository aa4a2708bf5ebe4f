/**
 * OpenTelemetry: the SDK is started once per process by the composition root; W3C trace context
 * travels in Kafka headers (`traceparent`, `tracestate`) so one trace follows an event across hops.
 */
import {
  context,
  propagation,
  trace,
  SpanKind,
  SpanStatusCode,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import type { Config } from './config.ts';
import { W3CTraceContext } from './trace-context.ts';

export type KafkaHeaders = Record<string, string | Buffer | undefined>;

const headerSetter: TextMapSetter<KafkaHeaders> = {
  set(carrier, key, value) {
    carrier[key] = value;
  },
};

const headerGetter: TextMapGetter<KafkaHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get(carrier, key) {
    const v = carrier[key];
    return v === undefined ? undefined : v.toString();
  },
};

// Propagation works even when no SDK is started (tests, CLI one-shots): ids are still carried.
propagation.setGlobalPropagator(new W3CTraceContext());

export function injectTraceHeaders(headers: KafkaHeaders, ctx: Context = context.active()): KafkaHeaders {
  propagation.inject(ctx, headers, headerSetter);
  return headers;
}

export function extractTraceContext(headers: KafkaHeaders): Context {
  return propagation.extract(context.active(), headers, headerGetter);
}

export const tracer = (): ReturnType<typeof trace.getTracer> => trace.getTracer('genomic-backbone');

/** Runs fn inside a span following the OTel messaging conventions; errors mark the span. */
export async function withSpan<T>(
  name: string,
  attributes: Record<string, string | number | boolean>,
  fn: (span: Span) => Promise<T>,
  options: { kind?: SpanKind; parent?: Context } = {},
): Promise<T> {
  const parent = options.parent ?? context.active();
  return tracer().startActiveSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes }, parent, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      span.recordException(error instanceof Error ? error : new Error(String(error)));
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  });
}

export { SpanKind };

/** Starts the SDK as configured; returns its shutdown. With exporter 'none' nothing is started. */
export async function startTelemetry(config: Config, serviceName: string): Promise<() => Promise<void>> {
  if (config.telemetryExporter === 'none') return async () => {};
  // Loaded only when spans are exported: the SDK adds ~40 MB to every process that imports it.
  const { NodeSDK, tracing } = await import('@opentelemetry/sdk-node');
  const exporter =
    config.telemetryExporter === 'console'
      ? new tracing.ConsoleSpanExporter()
      : new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter({ url: config.otlpEndpoint });
  const sdk = new NodeSDK({
    serviceName,
    traceExporter: exporter,
    textMapPropagator: new W3CTraceContext(),
    instrumentations: [],
  });
  sdk.start();
  return () => sdk.shutdown();
}
