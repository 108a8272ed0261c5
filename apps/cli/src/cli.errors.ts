import type { DocumentSource } from './documents.js';

export enum CliErrorCode {
  /** Bad arguments: nothing was sent. */
  Usage = 'usage',
  /** No admin key in the environment: nothing was sent. */
  NoKey = 'no_key',
  /** The tenant documents on disk cannot be read or parsed: nothing was sent. */
  LocalDocuments = 'local_documents',
  /** No answer from the service or the NATS server (refused, unknown host, timeout). */
  Unreachable = 'unreachable',
  /** The check ran and found the evidence not intact (a chain break, a bad bundle file). */
  NotIntact = 'not_intact',
  /** The credential was refused (401). */
  Unauthorized = 'unauthorized',
  /** The credential's roles or tenant scope do not allow this (403). */
  Forbidden = 'forbidden',
  /** The documents failed validation; the service applied nothing (422). */
  InvalidDocuments = 'invalid_documents',
  BadRequest = 'bad_request',
  NotFound = 'not_found',
  Conflict = 'conflict',
  /** Any other answer, or one that is not the admin API's JSON (wrong --url?). */
  UnexpectedResponse = 'unexpected_response',
}

/** One validation problem as the admin API reports it: `documents[document].path: message`. */
export interface ApiDocumentError {
  document: number;
  path: string;
  message: string;
}

export interface CliErrorDetails {
  /** The service's validation errors (InvalidDocuments). */
  documentErrors?: ApiDocumentError[];
  /** The file each document of the batch came from, by index, when known. */
  sources?: readonly DocumentSource[] | null;
  /** More lines worth printing under the message. */
  lines?: string[];
}

/** Why a command failed, with what is worth printing about it. */
export class CliError extends Error {
  constructor(
    readonly code: CliErrorCode,
    message: string,
    readonly details: CliErrorDetails = {},
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The exit statuses, as the app README documents them. */
export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;
export type ExitStatus = (typeof EXIT)[keyof typeof EXIT];

/**
 * 2 for a mistake in the invocation (fix the command line; nothing was sent), 3 when nothing
 * answered (retry later or fix the URL), 1 for a refusal or a failure the other side reported.
 */
export function exitCodeFor(code: CliErrorCode): ExitStatus {
  switch (code) {
    case CliErrorCode.Usage:
    case CliErrorCode.NoKey:
      return EXIT.usage;
    case CliErrorCode.Unreachable:
      return EXIT.unreachable;
    case CliErrorCode.LocalDocuments:
    case CliErrorCode.NotIntact:
    case CliErrorCode.Unauthorized:
    case CliErrorCode.Forbidden:
    case CliErrorCode.InvalidDocuments:
    case CliErrorCode.BadRequest:
    case CliErrorCode.NotFound:
    case CliErrorCode.Conflict:
    case CliErrorCode.UnexpectedResponse:
      return EXIT.failed;
    default: {
      const unreachable: never = code;
      throw new Error(`unmapped cli error ${String(unreachable)}`);
    }
  }
}
