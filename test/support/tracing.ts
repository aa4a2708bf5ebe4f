/** A real tracer provider that keeps finished spans in memory, to assert on trace propagation. */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { tracing } from '@opentelemetry/sdk-node';

export function inMemoryTracing(): { exporter: InstanceType<typeof tracing.InMemorySpanExporter>; stop(): Promise<void> } {
  const exporter = new tracing.InMemorySpanExporter();
  const provider = new tracing.BasicTracerProvider({ spanProcessors: [new tracing.SimpleSpanProcessor(exporter)] });
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  trace.setGlobalTracerProvider(provider);
  return {
    exporter,
    stop: async () => {
      await provider.shutdown();
      trace.disable();
      context.disable();
    },
  };
}
