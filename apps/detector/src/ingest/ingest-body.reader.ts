import type { IncomingMessage } from 'node:http';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { nestsDeeperThan } from '@autoheal/contracts';
import { RefusalHold } from '@autoheal/http';
import { createLogger } from '@autoheal/telemetry';
import { authorizeIngest, type IngestKeyring } from './ingest-api-keys.js';
import { ingestAuthMessage } from './ingest-auth.guard.js';
import { IngestError, IngestErrorCode, payloadTooLarge } from './ingest.errors.js';
import { sendIngestError, type JsonResponse } from './ingest.exception-filter.js';
import { IngestService, type IngestSource } from './ingest.service.js';
import type { IngestConfig } from './ingest.config.js';
import { INGEST_CONFIG, INGEST_KEYRING } from './ingest.tokens.js';

const INGEST_PATH = /^\/v1\/tenants\/([^/]+)\/(health-events|alertmanager)\/?(?:\?.*)?$/;
const log = createLogger('detector-ingest');

type Next = (error?: unknown) => void;
type BodyRequest = IncomingMessage & { body?: unknown };

export type ReadBody = { ok: true; text: string; bytes: number } | { ok: false; tooLarge: true };

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
      if (!done) resolve({ ok: true, text: Buffer.concat(chunks).toString('utf8'), bytes: size });
    });
    req.on('error', reject);
  });
}

/** Content-Length when the request declares one (a chunked body does not). */
function declaredLength(req: IncomingMessage): number | null {
  const declared = Number(req.headers['content-length'] ?? NaN);
  return Number.isFinite(declared) && declared >= 0 ? declared : null;
}

/**
 * Reads and parses the body of ingest requests with their own limits (the application's JSON
 * parser allows 100 KB, a batch of 500 events needs more). Cheap checks come first, so that work
 * is spent only on a request that may have it: the key (before a byte of the body is read), a
 * declared size over the limit (413 before any budget's 429: no retry could pass), the tenant's
 * request and byte budgets, the size as read, the nesting depth (before parsing), then JSON.
 * It is registered on the HTTP adapter while the module is built, i.e. before Nest adds its body
 * parsers at init, and a body read here is skipped by them. A body refused after it was read is
 * dead-lettered like any invalid message.
 */
@Injectable()
export class IngestBodyReader implements OnModuleInit {
  private registered = false;
  /** 429s for a tenant's request or byte budget are held until their Retry-After (libs/http RefusalHold). */
  private readonly refusals = new RefusalHold();

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
    const [, tenantId, route] = match;
    const source: IngestSource = route === 'alertmanager' ? 'alertmanager' : 'http-ingest';
    try {
      const auth = authorizeIngest(this.keyring, req.headers.authorization, tenantId);
      if (!auth.ok) return refuseUnread(req, res, new IngestError(auth.code, ingestAuthMessage(auth.code)));
      const declared = declaredLength(req);
      try {
        this.ingest.admitRequest(source, tenantId, declared);
      } catch (error) {
        if (error instanceof IngestError) {
          if (error.code === IngestErrorCode.PayloadTooLarge) return refuseAfterDiscarding(req, res, error);
          if (error.code === IngestErrorCode.RateLimited) return this.refuseOverBudget(tenantId, req, res, error);
          return refuseUnread(req, res, error);
        }
        throw error;
      }
      const limit = this.config.DETECTOR_INGEST_MAX_BODY_BYTES;
      const read = await readBody(req, limit);
      if (!read.ok) {
        return sendIngestError(res, payloadTooLarge(limit));
      }
      if (declared === null) this.ingest.chargeBodyBytes(source, tenantId, read.bytes);
      const maxDepth = this.config.DETECTOR_INGEST_MAX_DEPTH;
      if (nestsDeeperThan(read.text, maxDepth)) {
        const detail = `(root): the body nests deeper than ${maxDepth} levels (DETECTOR_INGEST_MAX_DEPTH)`;
        await this.ingest.rejectMalformed(source, tenantId, read.text, detail);
        return sendIngestError(res, new IngestError(IngestErrorCode.TooDeep, detail));
      }
      try {
        req.body = read.text.length === 0 ? undefined : (JSON.parse(read.text) as unknown);
      } catch (error) {
        const detail = `(root): body is not valid JSON: ${(error as Error).message}`;
        await this.ingest.rejectMalformed(source, tenantId, read.text, detail);
        return sendIngestError(res, new IngestError(IngestErrorCode.MalformedJson, detail));
      }
      next();
    } catch (error) {
      if (error instanceof IngestError) return sendIngestError(res, error);
      next(error);
    }
  }

  /**
   * A request over its tenant's request or byte budget: the body is discarded at once, the 429
   * held until its Retry-After (at most 1 s). A sender that retries at once was refused as fast
   * as we could refuse — 0.8 ms of detector CPU each, taken from every other tenant — and a
   * cheaper refusal only bought it more of them; held, each of its connections gets about one
   * answer a second. Past 16 held answers for one tenant, the 429 goes out at once and closes the
   * connection.
   */
  private refuseOverBudget(tenantId: string, req: IncomingMessage, res: JsonResponse, error: IngestError): void {
    req.resume();
    this.refusals.hold(tenantId, (error.details.retryAfterSeconds ?? 1) * 1_000, (held) => {
      if (!held) res.setHeader('Connection', 'close');
      refuseUnread(req, res, error);
    });
  }
}

/**
 * A refused body declared this small is read to its end and thrown away, and the connection is
 * kept for the client's next request; a larger one, or one of undeclared length, closes it.
 */
export const DRAIN_REFUSED_UP_TO_BYTES = 64 * 1024;

/**
 * Answers without parsing the body: what was sent is discarded as it arrives (never buffered).
 * A body over DRAIN_REFUSED_UP_TO_BYTES, or chunked, closes the connection after the answer, so a
 * refused sender cannot make us read more. A small one keeps it: a refusal that closed its
 * connection cost the detector 1.6 ms of CPU (a socket accepted, set up and torn down per
 * request), one on a kept connection 1.0 ms (tools/bench/ingest-cost.bench.js).
 */
function refuseUnread(req: IncomingMessage, res: JsonResponse, error: IngestError): void {
  req.resume();
  const declared = declaredLength(req);
  if (declared === null || declared > DRAIN_REFUSED_UP_TO_BYTES) res.setHeader('Connection', 'close');
  sendIngestError(res, error);
}

/** Longest a body refused for its declared size is discarded before the answer goes out anyway. */
export const OVERSIZED_BODY_DRAIN_MS = 1_000;

/**
 * The answer to a body declared too large must reach the sender, or it learns nothing it can act
 * on: closing the connection while the body is still arriving makes the kernel reset it, and a
 * client still writing then sees the reset (EPIPE) instead of the 413. So what arrives is
 * discarded as it comes (never buffered) until the body ends or OVERSIZED_BODY_DRAIN_MS pass,
 * then the 413 is sent and the connection closed.
 */
function refuseAfterDiscarding(req: IncomingMessage, res: JsonResponse, error: IngestError): void {
  let answered = false;
  const answer = () => {
    if (answered) return;
    answered = true;
    clearTimeout(timer);
    refuseUnread(req, res, error);
  };
  const timer = setTimeout(answer, OVERSIZED_BODY_DRAIN_MS);
  req.once('end', answer);
  req.once('close', answer);
  req.resume();
}
