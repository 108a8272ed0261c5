import type { DocumentSource } from './document-sources.js';

export enum CliErrorCode {
  /** Bad arguments: nothing was sent. */
  Usage = 'usage',
  /** No admin key in the environment: nothing was sent. */
  NoKey = 'no_key',
  /** The tenant documents on disk cannot be read or parsed: nothing was sent. */
  LocalDocuments = 'local_documents',
  /** No answer from the decision service (refused, unknown host, timeout). */
  Unreachable = 'unreachable',
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

/** 2 for a mistake in the invocation (fix the command line), 1 for everything that went wrong after. */
export function exitCodeFor(code: CliErrorCode): 1 | 2 {
  switch (code) {
    case CliErrorCode.Usage:
    case CliErrorCode.NoKey:
      return 2;
    case CliErrorCode.LocalDocuments:
    case CliErrorCode.Unreachable:
    case CliErrorCode.Unauthorized:
    case CliErrorCode.Forbidden:
    case CliErrorCode.InvalidDocuments:
    case CliErrorCode.BadRequest:
    case CliErrorCode.NotFound:
    case CliErrorCode.Conflict:
    case CliErrorCode.UnexpectedResponse:
      return 1;
    default: {
      const unreachable: never = code;
      throw new Error(`unmapped cli error ${String(unreachable)}`);
    }
  }
}
