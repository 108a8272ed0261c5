import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Controller, Headers, HttpCode, HttpException, HttpStatus, Param, Post, Req, type RawBodyRequest } from '@nestjs/common';
import { RunbookCallbacks, type CallbackVerdict } from './runbook-callbacks.js';

/** What a refused callback is told. */
interface CallbackRefusal {
  error: 'unknown_remediation' | 'unattributed_callback' | 'invalid_callback';
  message: string;
}

/**
 * Where a runbook that answered 202 reports the outcome, signed like its answers (Standard
 * Webhooks, `webhook-id` = the remediation id). The signature covers the exact bytes sent, so
 * the body is verified as received (the application is built with `rawBody: true`).
 */
@Controller('v1/runbook-callbacks')
export class RunbookCallbackController {
  constructor(private readonly callbacks: RunbookCallbacks) {}

  @Post(':remediationId')
  @HttpCode(HttpStatus.NO_CONTENT)
  receive(@Param('remediationId') remediationId: string, @Req() req: RawBodyRequest<IncomingMessage>, @Headers() headers: IncomingHttpHeaders): void {
    if (!req.rawBody) {
      throw refused(HttpStatus.BAD_REQUEST, { error: 'invalid_callback', message: '(root): the callback must be a JSON body (content-type: application/json)' });
    }
    respond(remediationId, this.callbacks.deliver(remediationId, req.rawBody.toString('utf8'), singleValued(headers)));
  }
}

function respond(remediationId: string, verdict: CallbackVerdict): void {
  switch (verdict.kind) {
    case 'accepted':
      return;
    case 'unknown_remediation':
      throw refused(HttpStatus.NOT_FOUND, {
        error: 'unknown_remediation',
        message: `no call waits for remediation ${remediationId.slice(0, 100)} here (unknown, already answered, or past its deadline)`,
      });
    case 'unattributed':
      throw refused(HttpStatus.UNAUTHORIZED, { error: 'unattributed_callback', message: `not signed by the runbook's secret (${verdict.rejection.reason}): ${verdict.rejection.detail}` });
    case 'invalid':
      throw refused(HttpStatus.BAD_REQUEST, { error: 'invalid_callback', message: verdict.detail });
    default: {
      const unreachable: never = verdict;
      throw new Error(`unhandled callback verdict ${JSON.stringify(unreachable)}`);
    }
  }
}

function refused(status: HttpStatus, body: CallbackRefusal): HttpException {
  return new HttpException(body, status);
}

/** A header sent twice cannot be a valid signature header: it reads as absent. */
function singleValued(headers: IncomingHttpHeaders): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, typeof value === 'string' ? value : undefined]));
}
