import { EventEmitter } from 'node:events';
import { flushOnSignals, spanProcessorPlan, type SignalTarget } from './sdk';

describe('spanProcessorPlan', () => {
  it.each([
    [{}, [{ kind: 'none' }]],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, [{ kind: 'otlp', endpoint: 'http://collector:4318' }]],
    [{ AUTOHEAL_TRACE_FILE: '/tmp/t.jsonl' }, [{ kind: 'trace-file', path: '/tmp/t.jsonl' }]],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', AUTOHEAL_TRACE_FILE: '/tmp/t.jsonl' },
      [
        { kind: 'otlp', endpoint: 'http://c:4318' },
        { kind: 'trace-file', path: '/tmp/t.jsonl' },
      ],
    ],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: '', AUTOHEAL_TRACE_FILE: '' }, [{ kind: 'none' }]],
  ])('%j → %j', (env, expected) => {
    expect(spanProcessorPlan(env)).toEqual(expected);
  });
});

class FakeProcess extends EventEmitter implements SignalTarget {
  readonly pid = 4242;
  readonly kills: [number, NodeJS.Signals][] = [];
  kill(pid: number, signal: NodeJS.Signals): boolean {
    this.kills.push([pid, signal]);
    return true;
  }
}

const flushed = () => new Promise((r) => setImmediate(r));

describe('flushOnSignals', () => {
  it('only flushes while the application still handles the signal, then re-raises it once it is the last listener', async () => {
    const target = new FakeProcess();
    const calls: string[] = [];
    flushOnSignals({ shutdown: async () => void calls.push('shutdown') }, async () => void calls.push('flush'), { target });
    const appHandler = () => calls.push('app');
    target.on('SIGTERM', appHandler);

    target.emit('SIGTERM');
    await flushed();
    expect(calls).toEqual(['flush', 'app']);
    expect(target.kills).toEqual([]);

    // What Nest does after closing the app: drop its listener and raise the signal again.
    target.removeListener('SIGTERM', appHandler);
    target.emit('SIGTERM');
    await flushed();
    expect(calls).toEqual(['flush', 'app', 'flush', 'shutdown']);
    expect(target.kills).toEqual([[4242, 'SIGTERM']]);
    expect(target.listenerCount('SIGTERM')).toBe(0);
    // SIGINT is still covered.
    expect(target.listenerCount('SIGINT')).toBe(1);
  });

  it('re-raises at once when nobody else listens (the default action must still end the process)', async () => {
    const target = new FakeProcess();
    const calls: string[] = [];
    flushOnSignals({ shutdown: async () => void calls.push('shutdown') }, async () => void calls.push('flush'), { target });
    target.emit('SIGINT');
    await flushed();
    expect(calls).toEqual(['flush', 'shutdown']);
    expect(target.kills).toEqual([[4242, 'SIGINT']]);
  });

  it('does not hold the process hostage when the exporter hangs', async () => {
    const target = new FakeProcess();
    flushOnSignals({ shutdown: () => new Promise(() => undefined) }, () => new Promise(() => undefined), { target, timeoutMs: 20 });
    target.emit('SIGTERM');
    await new Promise((r) => setTimeout(r, 60));
    expect(target.kills).toEqual([[4242, 'SIGTERM']]);
  });

  it('uninstalls its listeners', () => {
    const target = new FakeProcess();
    const off = flushOnSignals({ shutdown: async () => undefined }, async () => undefined, { target });
    off();
    expect(target.listenerCount('SIGTERM') + target.listenerCount('SIGINT')).toBe(0);
  });
});
