import {
  context,
  propagation,
  trace,
  SpanKind,
  SpanStatusCode,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  SimpleSpanProcessor,
  ConsoleSpanExporter,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

export { SpanKind, SpanStatusCode, type Attributes, type Span };

let provider: NodeTracerProvider | undefined;
let exporting = false;

/**
 * Whether spans go anywhere. Without an exporter a span is pure cost (the hot path makes several per
 * call), so withSpan then only carries the caller's context and makes none.
 */
export function tracingActive(): boolean {
  return exporting;
}

export interface TracingOptions {
  /** extra exporters (tests pass an in-memory one); exported synchronously */
  exporters?: SpanExporter[];
}

/**
 * Installs the global tracer provider once per process. Exporters: OTLP over HTTP when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set, the console when OTEL_TRACES_EXPORTER=console, plus any given.
 * Without an exporter spans are still created, so trace ids propagate and appear in logs.
 */
export function initTracing(serviceName: string, options: TracingOptions = {}): void {
  if (provider) return;
  const processors: SpanProcessor[] = [];
  if (process.env.OTEL_EXPORTER_OTLP_ENDPOINT) processors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  if (process.env.OTEL_TRACES_EXPORTER === 'console') processors.push(new SimpleSpanProcessor(new ConsoleSpanExporter()));
  for (const exporter of options.exporters ?? []) processors.push(new SimpleSpanProcessor(exporter));
  exporting = processors.length > 0;
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }),
    spanProcessors: processors,
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
}

export async function shutdownTracing(): Promise<void> {
  await provider?.shutdown();
  provider = undefined;
  exporting = false;
}

/** Each service traces under its own instrumentation scope, so one process hosting several (tests) still tells them apart. */
export function tracer(service: string) {
  return trace.getTracer(`gateway.${service}`);
}

/** Runs fn inside a new active span; records failure and always ends the span. */
export async function withSpan<T>(
  service: string,
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes; parent?: Context },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = options.parent ?? context.active();
  // nothing exports: no span, and no context switch (which would turn on async-hooks bookkeeping)
  if (!exporting) return fn(trace.getSpan(parent) ?? NOOP_SPAN);
  return tracer(service).startActiveSpan(name, { kind: options.kind, attributes: options.attributes }, parent, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * A span the caller ends itself (one that outlives the function that starts it: an upstream call's span
 * takes the call's usage when it settles). Without an exporter, the current span or a no-op one.
 */
export function startSpan(service: string, name: string, options: { kind?: SpanKind; attributes?: Attributes } = {}): Span {
  if (!exporting) return NOOP_SPAN;
  return tracer(service).startSpan(name, { kind: options.kind, attributes: options.attributes }, context.active());
}

const NOOP_SPAN = trace.wrapSpanContext({ traceId: '00000000000000000000000000000000', spanId: '0000000000000000', traceFlags: 0 });

export type TraceCarrier = Record<string, string>;

/** The current trace context as plain headers, for a message envelope or job data. */
export function injectContext(ctx: Context = context.active()): TraceCarrier | undefined {
  if (!trace.getSpan(ctx)) return undefined;
  const carrier: TraceCarrier = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

export function extractContext(carrier: TraceCarrier | undefined): Context {
  return propagation.extract(context.active(), carrier ?? {});
}

export function currentTraceId(): string | undefined {
  return trace.getSpan(context.active())?.spanContext().traceId;
}
