import { ROOT_CONTEXT, createTraceState, trace, type SpanContext, type TextMapGetter, type TextMapPropagator } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { describe, expect, it } from 'vitest';
import { W3CTraceContext, parseTraceparent } from '../../platform/trace-context.ts';

type Carrier = Record<string, string | string[] | undefined>;
const getter: TextMapGetter<Carrier> = { keys: (c) => Object.keys(c), get: (c, k) => c[k] };
const setter = { set: (c: Carrier, k: string, v: string): void => void (c[k] = v) };

const ours = new W3CTraceContext();
const reference = new W3CTraceContextPropagator();

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

/** What a propagator extracts from headers, in comparable form (undefined: nothing). */
function extracted(propagator: TextMapPropagator, carrier: Carrier): object | undefined {
  const span = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, carrier, getter));
  return span === undefined ? undefined : { ...span, traceState: span.traceState?.serialize() };
}

function injected(propagator: TextMapPropagator, span: SpanContext): Carrier {
  const carrier: Carrier = {};
  propagator.inject(trace.setSpanContext(ROOT_CONTEXT, span), carrier, setter);
  return carrier;
}

describe('W3C trace context propagation', () => {
  const headers: Carrier[] = [
    { traceparent: `00-${TRACE}-${SPAN}-01` },
    { traceparent: `00-${TRACE}-${SPAN}-00`, tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE' },
    { traceparent: [`00-${TRACE}-${SPAN}-01`, `00-${TRACE}-${'1'.repeat(16)}-01`], tracestate: ['a=1', 'b=2'] },
    { traceparent: ` 00-${TRACE}-${SPAN}-01 ` },
    // A later version may append fields; version 00 may not.
    { traceparent: `01-${TRACE}-${SPAN}-01-what-comes-next` },
    { traceparent: `00-${TRACE}-${SPAN}-01-extra` },
    // Malformed: forbidden version, all-zero ids, upper case, wrong lengths, not hex, missing.
    { traceparent: `ff-${TRACE}-${SPAN}-01` },
    { traceparent: `00-${'0'.repeat(32)}-${SPAN}-01` },
    { traceparent: `00-${TRACE}-${'0'.repeat(16)}-01` },
    { traceparent: `00-${TRACE.toUpperCase()}-${SPAN}-01` },
    { traceparent: `00-${TRACE.slice(1)}-${SPAN}-01` },
    { traceparent: `00-${TRACE}-${SPAN}-1` },
    { traceparent: `0x-${TRACE}-${SPAN}-01` },
    { traceparent: `00-${TRACE}-${SPAN}-0g` },
    { traceparent: '' },
    { tracestate: 'a=1' },
    {},
  ];

  it('extracts what @opentelemetry/core extracts, from valid and malformed headers alike', () => {
    for (const carrier of headers) expect(extracted(ours, carrier), JSON.stringify(carrier)).toEqual(extracted(reference, carrier));
    // The cases above do exercise both outcomes.
    expect(headers.filter((c) => extracted(ours, c) !== undefined).length).toBe(5);
  });

  it('injects what @opentelemetry/core injects, and nothing for an invalid span context', () => {
    const spans: SpanContext[] = [
      { traceId: TRACE, spanId: SPAN, traceFlags: 1 },
      { traceId: TRACE, spanId: SPAN, traceFlags: 0, traceState: createTraceState('vendor=abc,other=x') },
      { traceId: '0'.repeat(32), spanId: SPAN, traceFlags: 1 },
      { traceId: TRACE, spanId: '0'.repeat(16), traceFlags: 1 },
    ];
    for (const span of spans) expect(injected(ours, span)).toEqual(injected(reference, span));
    expect(injected(ours, spans[0] as SpanContext)).toEqual({ traceparent: `00-${TRACE}-${SPAN}-01` });
    expect(injected(ours, spans[2] as SpanContext)).toEqual({});
  });

  it('round-trips a span context through Kafka-style headers', () => {
    const span: SpanContext = { traceId: TRACE, spanId: SPAN, traceFlags: 1, traceState: createTraceState('k=v') };
    expect(extracted(ours, injected(ours, span))).toEqual({ ...span, isRemote: true, traceState: 'k=v' });
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-03`)).toEqual({ traceId: TRACE, spanId: SPAN, traceFlags: 3 });
    expect(ours.fields()).toEqual(['traceparent', 'tracestate']);
  });
});
