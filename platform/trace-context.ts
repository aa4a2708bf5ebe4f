/**
 * W3C Trace Context (`traceparent`, `tracestate`) as an OpenTelemetry TextMapPropagator, written
 * from the specification (https://www.w3.org/TR/trace-context/). Every process propagates trace
 * context, while the OpenTelemetry SDK is loaded only when spans are exported. Loading
 * @opentelemetry/core for its propagator cost each process ~30 ms at start. A unit test checks this
 * one against @opentelemetry/core's on valid and malformed headers.
 */
import { createTraceState, isSpanContextValid, trace, type Context, type TextMapGetter, type TextMapPropagator, type TextMapSetter } from '@opentelemetry/api';

const TRACEPARENT = 'traceparent';
const TRACESTATE = 'tracestate';

/** `n` lowercase hex digits (the specification allows no upper case). */
function isHex(text: string | undefined, n: number): text is string {
  if (text === undefined || text.length !== n) return false;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

const allZeros = (hex: string): boolean => /^0+$/.test(hex);

/** The trace id, parent span id and flags of a `traceparent` value; undefined when it is not valid. */
export function parseTraceparent(value: string): { traceId: string; spanId: string; traceFlags: number } | undefined {
  const parts = value.trim().split('-');
  const [version, traceId, spanId, flags] = parts;
  // Version ff is forbidden; version 00 has exactly four fields, later versions may append more.
  if (!isHex(version, 2) || version === 'ff' || (version === '00' && parts.length !== 4)) return undefined;
  if (!isHex(traceId, 32) || allZeros(traceId) || !isHex(spanId, 16) || allZeros(spanId) || !isHex(flags, 2)) return undefined;
  return { traceId, spanId, traceFlags: parseInt(flags, 16) };
}

export class W3CTraceContext implements TextMapPropagator {
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    const span = trace.getSpanContext(context);
    if (span === undefined || !isSpanContextValid(span)) return;
    setter.set(carrier, TRACEPARENT, `00-${span.traceId}-${span.spanId}-${(span.traceFlags & 0xff).toString(16).padStart(2, '0')}`);
    if (span.traceState !== undefined) setter.set(carrier, TRACESTATE, span.traceState.serialize());
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const header = getter.get(carrier, TRACEPARENT);
    const value = Array.isArray(header) ? header[0] : header;
    if (value === undefined) return context;
    const parsed = parseTraceparent(value);
    if (parsed === undefined) return context;
    const stateHeader = getter.get(carrier, TRACESTATE);
    const state = Array.isArray(stateHeader) ? stateHeader.join(',') : stateHeader;
    return trace.setSpanContext(context, { ...parsed, isRemote: true, ...(state === undefined || state === '' ? {} : { traceState: createTraceState(state) }) });
  }

  fields(): string[] {
    return [TRACEPARENT, TRACESTATE];
  }
}
