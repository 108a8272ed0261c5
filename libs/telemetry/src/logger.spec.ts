import { Writable } from 'node:stream';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { context, trace } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { createLogger } from './logger';
import { PinoNestLogger } from './pino-nest.logger';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { stream, lines: () => chunks.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

// These tests read info lines; the test runner may set a quieter level for everything else.
const savedLevel = process.env.LOG_LEVEL;
beforeAll(() => {
  process.env.LOG_LEVEL = 'info';
});
afterAll(() => {
  if (savedLevel === undefined) delete process.env.LOG_LEVEL;
  else process.env.LOG_LEVEL = savedLevel;
});

describe('createLogger', () => {
  const saved = process.env.OTEL_SERVICE_NAME;
  beforeAll(() => context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable()));
  afterAll(() => context.disable());
  afterEach(() => {
    if (saved === undefined) delete process.env.OTEL_SERVICE_NAME;
    else process.env.OTEL_SERVICE_NAME = saved;
  });

  it('writes JSON with service, level label and the active span ids', () => {
    delete process.env.OTEL_SERVICE_NAME;
    const out = capture();
    const log = createLogger('auditor', out.stream);
    const span = new BasicTracerProvider().getTracer('t').startSpan('work');
    context.with(trace.setSpan(context.active(), span), () => log.info({ rows: 3 }, 'appended'));
    log.warn('outside any span');
    span.end();

    const [inside, outside] = out.lines();
    expect(inside).toMatchObject({ level: 'info', service: 'auditor', rows: 3, msg: 'appended', trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId });
    expect(typeof inside.time).toBe('string');
    expect(outside).toMatchObject({ level: 'warn', service: 'auditor', msg: 'outside any span' });
    expect(outside).not.toHaveProperty('trace_id');
  });

  it('names the process by OTEL_SERVICE_NAME and keeps its own name as component', () => {
    process.env.OTEL_SERVICE_NAME = 'decision';
    const out = capture();
    createLogger('outbox-relay', out.stream).info('hi');
    expect(out.lines()[0]).toMatchObject({ service: 'decision', component: 'outbox-relay' });
  });
});

describe('PinoNestLogger', () => {
  it('maps Nest calls (message, [stack], context) to JSON fields', () => {
    const out = capture();
    const nest = new PinoNestLogger(createLogger('svc', out.stream));
    nest.log('Mapped {/v1/x, GET} route', 'RouterExplorer');
    nest.error('boom', 'Error: boom\n    at f (file.js:1:1)', 'ExceptionsHandler');
    nest.warn({ event: 'slow' }, 'Scheduler');
    nest.error(new Error('bad'));
    const [a, b, c, d] = out.lines();
    expect(a).toMatchObject({ level: 'info', context: 'RouterExplorer', msg: 'Mapped {/v1/x, GET} route' });
    expect(b).toMatchObject({ level: 'error', context: 'ExceptionsHandler', msg: 'boom' });
    expect(String(b.stack)).toContain('at f (file.js:1:1)');
    expect(c).toMatchObject({ level: 'warn', context: 'Scheduler', event: 'slow' });
    expect(d).toMatchObject({ level: 'error', msg: 'bad' });
    expect((d.err as { message: string }).message).toBe('bad');
  });

  it('honours the most verbose level Nest asks for', () => {
    const out = capture();
    const log = createLogger('svc', out.stream);
    const nest = new PinoNestLogger(log);
    nest.setLogLevels(['error', 'warn']);
    nest.log('dropped');
    nest.warn('kept');
    expect(out.lines().map((l) => l.msg)).toEqual(['kept']);
  });
});
