import { z } from 'zod';
import { DEFAULT_HTTP_HOST, HTTP_HOST_ENV } from './http-host.js';

const schema = z.object(HTTP_HOST_ENV);

describe('HTTP_HOST', () => {
  it('defaults to the loopback address', () => {
    expect(schema.parse({}).HTTP_HOST).toBe('127.0.0.1');
    expect(DEFAULT_HTTP_HOST).toBe('127.0.0.1');
  });

  it.each(['0.0.0.0', '10.1.2.3', '::', '::1', 'fd00::10', 'localhost', 'autoheal-auditor.autoheal.svc'])('accepts %s', (host) => {
    expect(schema.parse({ HTTP_HOST: host }).HTTP_HOST).toBe(host);
  });

  it.each(['', '127.0.0.1:3000', '256.1.1.1', 'http://0.0.0.0', 'a b', '[::]'])('refuses %j, naming the variable', (host) => {
    const result = schema.safeParse({ HTTP_HOST: host });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['HTTP_HOST']);
  });
});
