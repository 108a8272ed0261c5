import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { TraceFileSpanExporter, type TraceFileRecord } from './trace-file.exporter';

describe('TraceFileSpanExporter', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'trace-file-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes one JSON line per finished span, synchronously, with parent, service and kind', () => {
    const file = join(dir, 'spans.jsonl');
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'auditor' }),
      spanProcessors: [new SimpleSpanProcessor(new TraceFileSpanExporter(file))],
    });
    const tracer = provider.getTracer('test');
    const parent = tracer.startSpan('incident.acme.opened process', { kind: SpanKind.CONSUMER, attributes: { 'messaging.system': 'nats' } });
    const child = tracer.startSpan('audit append', {}, trace.setSpan(context.active(), parent));
    child.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    child.end();
    parent.end();

    // No flush, no await: the lines are on disk when end() returns.
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as TraceFileRecord);
    expect(lines).toHaveLength(2);
    const [c, p] = lines;
    expect(p).toMatchObject({
      traceId: parent.spanContext().traceId,
      spanId: parent.spanContext().spanId,
      parentSpanId: null,
      name: 'incident.acme.opened process',
      service: 'auditor',
      kind: 'CONSUMER',
      attributes: { 'messaging.system': 'nats' },
      links: [],
      status: { code: 'UNSET' },
    });
    expect(c).toMatchObject({ traceId: p.traceId, parentSpanId: p.spanId, kind: 'INTERNAL', status: { code: 'ERROR', message: 'boom' } });
    expect(c.endTime).toBeGreaterThanOrEqual(c.startTime);
    expect(Math.abs(p.startTime - Date.now())).toBeLessThan(60_000);
  });

  it('reports failure once shut down instead of writing', async () => {
    const file = join(dir, 'spans.jsonl');
    const exporter = new TraceFileSpanExporter(file);
    await exporter.shutdown();
    const result = await new Promise<{ code: number }>((resolve) => exporter.export([], resolve));
    expect(result.code).not.toBe(0);
  });
});
