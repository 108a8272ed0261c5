import type { IncomingMessage } from 'node:http';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { createLogger } from '@autoheal/telemetry';
import { authorizeIngest, type IngestKeyring } from './ingest-api-keys.js';
import { IngestError, IngestErrorCode } from './ingest.errors.js';
import { sendIngestError, type JsonResponse } from './ingest.exception-filter.js';
import { IngestService, type IngestSource } from './ingest.service.js';
import type { IngestConfig } from './ingest.config.js';
import { INGEST_CONFIG, INGEST_KEYRING } from './ingest.tokens.js';

const INGEST_PATH = /^\/v1\/tenants\/([^/]+)\/(health-events|alertmanager)\/?(?:\?.*)?$/;
const log = createLogger('detector-ingest');

type Next = (error?: unknown) => void;
type BodyRequest = IncomingMessage & { body?: unknown };

export type ReadBody = { ok: true; text: string } | { ok: false; tooLarge: true };

/** Reads at most `limit` bytes of a request; stops reading (and says so) past it. */
export function readBody(req: IncomingMessage, limit: number): Promise<ReadBody> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      resolve({ ok: false, tooLarge: true });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        // Drain the rest so the response can still be written on this connection.
        req.resume();
        resolve({ ok: false, tooLarge: true });
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) resolve({ ok: true, text: Buffer.concat(chunks).toString('utf8') });
    });
    req.on('error', reject);
  });
}

/**
 * Reads and parses the body of ingest requests with their own size limit (the application's
 * JSON parser allows 100 KB, a batch of 500 events needs more). It is registered on the HTTP
 * adapter while the module is built, i.e. before Nest adds its body parsers at init, and a body
 * read here is skipped by them. Malformed JSON is dead-lettered like any invalid message.
 */
@Injectable()
export class IngestBodyReader implements OnModuleInit {
  private registered = false;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(INGEST_CONFIG) private readonly config: IngestConfig,
    @Inject(INGEST_KEYRING) private readonly keyring: IngestKeyring,
    private readonly ingest: IngestService,
  ) {
    this.register();
  }

  onModuleInit(): void {
    if (this.register()) {
      log.warn('ingest body reader registered after the JSON parser (application built without NestFactory.create?): bodies over 100 KB are refused');
    }
  }

  private register(): boolean {
    const adapter = this.adapterHost.httpAdapter;
    if (this.registered || !adapter) return false;
    this.registered = true;
    adapter.use((req: BodyRequest, res: JsonResponse, next: Next) => void this.handle(req, res, next));
    return true;
  }

  private async handle(req: BodyRequest, res: JsonResponse, next: Next): Promise<void> {
    const match = req.method === 'POST' ? INGEST_PATH.exec(req.url ?? '') : null;
    if (!match) return next();
    try {
      const read = await readBody(req, this.config.DETECTOR_INGEST_MAX_BODY_BYTES);
      if (!read.ok) {
        return sendIngestError(
          res,
          new IngestError(IngestErrorCode.PayloadTooLarge, `the body exceeds ${this.config.DETECTOR_INGEST_MAX_BODY_BYTES} bytes; send smaller batches`),
        );
      }
      try {
        req.body = read.text.length === 0 ? undefined : (JSON.parse(read.text) as unknown);
      } catch (error) {
        const detail = `(root): body is not valid JSON: ${(error as Error).message}`;
        const [, tenantId, route] = match;
        // Authentication first: anybody could otherwise fill the dead-letter stream.
        const auth = authorizeIngest(this.keyring, req.headers.authorization, tenantId);
        if (!auth.ok) return sendIngestError(res, new IngestError(auth.code, 'authentication failed; see the code'));
        const source: IngestSource = route === 'alertmanager' ? 'alertmanager' : 'http-ingest';
        await this.ingest.rejectMalformed(source, tenantId, read.text, detail);
        return sendIngestError(res, new IngestError(IngestErrorCode.MalformedJson, detail));
      }
      next();
    } catch (error) {
      if (error instanceof IngestError) return sendIngestError(res, error);
      next(error);
    }
  }
}
