import { decodeCursor, encodeCursor } from './audit-cursor';
import { AuditLogError, AuditLogErrorCode } from './audit-log.errors';

describe('audit cursor', () => {
  it.each([0, 1, 42, 9_007_199_254_740])('round-trips seq %d', (seq) => {
    expect(decodeCursor(encodeCursor(seq))).toBe(seq);
  });

  it.each(['', 'abc', '!!!', Buffer.from('seq:-1').toString('base64url'), Buffer.from('seq:01').toString('base64url'), Buffer.from('seq:1 OR 1=1').toString('base64url')])(
    'refuses %j as invalid_cursor on field cursor',
    (cursor) => {
      try {
        decodeCursor(cursor);
        throw new Error('accepted');
      } catch (error) {
        expect(error).toBeInstanceOf(AuditLogError);
        expect(error).toMatchObject({ code: AuditLogErrorCode.InvalidCursor, field: 'cursor' });
      }
    },
  );
});
