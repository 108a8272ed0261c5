import { AuditLogError, AuditLogErrorCode } from './audit-log.errors.js';

// Opaque to callers (they must not build one), but only a position: the filters travel with
// each request, so a cursor cannot widen what a caller may see.
const PREFIX = 'seq:';

export function encodeCursor(afterSeq: number): string {
  return Buffer.from(`${PREFIX}${afterSeq}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): number {
  const decoded = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const match = /^seq:(0|[1-9]\d{0,15})$/.exec(decoded);
  if (!match) throw new AuditLogError(AuditLogErrorCode.InvalidCursor, 'cursor is not a cursor returned by this API', 'cursor');
  return Number(match[1]);
}
