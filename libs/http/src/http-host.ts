import type { Server } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { z } from 'zod';

/** Where every service's HTTP server listens unless HTTP_HOST says otherwise: this machine only. */
export const DEFAULT_HTTP_HOST = '127.0.0.1';

const HOSTNAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * HTTP_HOST: the address every service's HTTP server binds. Loopback by default, so that a
 * service started on a laptop or a shared host is not reachable from the network by accident;
 * a container sets `0.0.0.0` (or `::`) so that probes and other pods reach it.
 */
export const HTTP_HOST_ENV = {
  HTTP_HOST: z
    .string()
    .default(DEFAULT_HTTP_HOST)
    .refine((v) => isIP(v) !== 0 || (HOSTNAME.test(v) && !/^[\d.]+$/.test(v)), {
      message: 'must be an IP address or a host name without port, e.g. 127.0.0.1 (default), 0.0.0.0 or ::',
    }),
};

/** Listens on `host:port` (port 0: one the OS picks) and returns the bound address. */
export async function listenHttp(app: INestApplication, options: { port: number; host: string }): Promise<AddressInfo> {
  await app.listen(options.port, options.host);
  return (app.getHttpServer() as Server).address() as AddressInfo;
}
