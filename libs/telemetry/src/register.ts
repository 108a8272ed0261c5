/**
 * Preloaded with `node --require @autoheal/telemetry/register <entry>`, before any module the
 * instrumentations patch (http, express, @nestjs/core, pg) is loaded.
 */
import { ProxyTracerProvider, trace, type TracerProvider } from '@opentelemetry/api';
import { createSdk, flushOnSignals } from './sdk.js';

const sdk = createSdk(process.env);
sdk.start();
flushOnSignals(sdk, async () => {
  const global = trace.getTracerProvider();
  const provider: TracerProvider & { forceFlush?: () => Promise<void> } = global instanceof ProxyTracerProvider ? global.getDelegate() : global;
  await provider.forceFlush?.();
});
