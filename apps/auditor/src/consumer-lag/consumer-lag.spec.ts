import { consumerLag, lagSeconds } from './consumer-lag.js';

describe('consumerLag', () => {
  it.each([
    ['nothing owed', { numPending: 0, numAckPending: 0, ackFloorStreamSeq: 40, streamFirstSeq: 1 }, { unacknowledged: 0, oldestSeq: null }],
    ['behind: the message after the ack floor', { numPending: 7, numAckPending: 0, ackFloorStreamSeq: 40, streamFirstSeq: 1 }, { unacknowledged: 7, oldestSeq: 41 }],
    ['delivered, not yet acknowledged, counts too', { numPending: 0, numAckPending: 2, ackFloorStreamSeq: 40, streamFirstSeq: 1 }, { unacknowledged: 2, oldestSeq: 41 }],
    ['owed messages already expired: the first one stored', { numPending: 5, numAckPending: 0, ackFloorStreamSeq: 10, streamFirstSeq: 25 }, { unacknowledged: 5, oldestSeq: 25 }],
  ])('%s', (_name, position, expected) => {
    expect(consumerLag(position)).toEqual(expected);
  });

  it('measures lag as the age of the oldest owed message, never negative', () => {
    const now = new Date('2026-06-01T12:00:00Z');
    expect(lagSeconds(now, null)).toBe(0);
    expect(lagSeconds(now, new Date('2026-06-01T11:58:30Z'))).toBe(90);
    // A stream's clock a little ahead of ours.
    expect(lagSeconds(now, new Date('2026-06-01T12:00:01Z'))).toBe(0);
  });
});
