import { randomBytes, randomUUID } from 'node:crypto';
import { interpretAnswer, interpretCallback, isTransientStatus, parseRunbookSecret, signedHeaders, verifySigned } from './runbook.protocol.js';

const secret = `whsec_${randomBytes(32).toString('base64')}`;
const parsedSecret = parseRunbookSecret(secret);
if (!parsedSecret.ok) throw new Error(parsedSecret.problem);
const webhook = parsedSecret.webhook;
const json = (value: unknown) => JSON.stringify(value);
const doneBody = json({ status: 'done', effects: [{ verb: 'restarted', object: 'api-1' }] });

describe('parseRunbookSecret', () => {
  it.each([
    ['without the whsec_ prefix', randomBytes(32).toString('base64'), /whsec_/],
    ['not base64', 'whsec_not base64!', /not base64/],
    ['too short', `whsec_${randomBytes(8).toString('base64')}`, /8 bytes/],
    ['too long', `whsec_${randomBytes(65).toString('base64')}`, /65 bytes/],
  ])('refuses a secret %s', (_name, value, problem) => {
    const result = parseRunbookSecret(value);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problem).toMatch(problem);
  });

  it('takes whsec_ + base64 of 24 to 64 bytes', () => {
    expect(parseRunbookSecret(`whsec_${randomBytes(24).toString('base64')}`).ok).toBe(true);
    expect(parseRunbookSecret(`whsec_${randomBytes(64).toString('base64')}`).ok).toBe(true);
  });
});

describe('verifySigned', () => {
  const id = randomUUID();
  const other = parseRunbookSecret(`whsec_${randomBytes(32).toString('base64')}`);
  if (!other.ok) throw new Error(other.problem);

  it.each([
    ['signed under the secret as this remediation', () => signedHeaders(webhook, id, new Date(), doneBody), doneBody, { ok: true }],
    ['without headers', () => ({}), doneBody, { ok: false, reason: 'unsigned', detail: 'missing webhook-id, webhook-timestamp, webhook-signature' }],
    ['without its signature', () => ({ ...signedHeaders(webhook, id, new Date(), doneBody), 'webhook-signature': undefined }), doneBody, { ok: false, reason: 'unsigned' }],
    ['signed under another secret', () => signedHeaders(other.webhook, id, new Date(), doneBody), doneBody, { ok: false, reason: 'bad_signature' }],
    ['with a body other than the one signed', () => signedHeaders(webhook, id, new Date(), doneBody), doneBody.replace('api-1', 'api-2'), { ok: false, reason: 'bad_signature' }],
    ['signed ten minutes ago', () => signedHeaders(webhook, id, new Date(Date.now() - 600_000), doneBody), doneBody, { ok: false, reason: 'bad_signature', detail: 'Message timestamp too old' }],
    ['signed as another remediation', () => signedHeaders(webhook, randomUUID(), new Date(), doneBody), doneBody, { ok: false, reason: 'mismatched_reply' }],
  ])('a body %s', (_name, headers, body, verdict) => {
    expect(verifySigned(webhook, body, headers(), id)).toMatchObject(verdict);
  });
});

describe('interpretAnswer', () => {
  const failed = json({ status: 'failed', code: 'disk_full', message: 'no space' });
  it.each([
    ['200 done', 200, doneBody, { kind: 'done', effects: [{ verb: 'restarted', object: 'api-1' }], replayed: false }],
    ['200 done, replayed', 200, json({ status: 'done', effects: [{ verb: 'scaled', object: 'api', detail: { to: 3 } }], replayed: true }), { kind: 'done', replayed: true }],
    ['200 failed', 200, failed, { kind: 'failed', code: 'disk_full', message: 'no space' }],
    ['409 failed', 409, failed, { kind: 'failed', code: 'disk_full' }],
    ['404 whatever it says', 404, 'not found', { kind: 'failed', code: 'unknown_target' }],
    ['404 with its message', 404, json({ status: 'failed', code: 'unknown_target', message: 'no api-9' }), { kind: 'failed', code: 'unknown_target', message: 'no api-9' }],
    ['failed unknown_target with 200', 200, json({ status: 'failed', code: 'unknown_target', message: '' }), { kind: 'failed', code: 'unknown_target' }],
    ['202 accepted', 202, json({ status: 'accepted' }), { kind: 'accepted' }],
    ['200 accepted', 200, json({ status: 'accepted' }), { kind: 'invalid', detail: 'status: "accepted" cannot come with HTTP 200' }],
    ['202 done', 202, doneBody, { kind: 'invalid' }],
    ['201 done', 201, doneBody, { kind: 'invalid' }],
    ['400 done', 400, doneBody, { kind: 'invalid' }],
    ['200 not JSON', 200, 'ok', { kind: 'invalid', detail: expect.stringMatching(/^\(root\): answer 200 is not JSON/) as unknown }],
    ['200 with an unknown status', 200, json({ status: 'maybe' }), { kind: 'invalid', detail: expect.stringContaining('status') as unknown }],
    ['200 done with no effects', 200, json({ status: 'done', effects: [] }), { kind: 'invalid', detail: expect.stringContaining('effects') as unknown }],
    ['200 done with a verb outside the vocabulary', 200, json({ status: 'done', effects: [{ verb: 'rebooted', object: 'api-1' }] }), { kind: 'invalid', detail: expect.stringContaining('effects.0.verb') as unknown }],
    ['200 failed with a code that is a sentence', 200, json({ status: 'failed', code: 'it broke badly', message: '' }), { kind: 'invalid', detail: expect.stringContaining('code') as unknown }],
    ['200 failed with a code over 64 characters', 200, json({ status: 'failed', code: 'x'.repeat(65), message: '' }), { kind: 'invalid', detail: expect.stringContaining('code') as unknown }],
  ])('%s', (_name, status, body, outcome) => {
    expect(interpretAnswer(status, body)).toMatchObject(outcome);
  });

  it('keeps the first 1000 characters of a refusal’s message', () => {
    const outcome = interpretAnswer(200, json({ status: 'failed', code: 'chatty', message: 'x'.repeat(5_000) }));
    expect(outcome).toMatchObject({ kind: 'failed', code: 'chatty' });
    if (outcome.kind === 'failed') expect(outcome.message).toHaveLength(1_000);
  });
});

describe('interpretCallback', () => {
  it.each([
    ['done', doneBody, { kind: 'done' }],
    ['failed', json({ status: 'failed', code: 'timeout', message: 'job hung' }), { kind: 'failed', code: 'timeout' }],
    ['accepted (a callback is the final word)', json({ status: 'accepted' }), { kind: 'invalid', detail: expect.stringContaining('status') as unknown }],
  ])('%s', (_name, body, outcome) => {
    expect(interpretCallback(body)).toMatchObject(outcome);
  });
});

describe('isTransientStatus', () => {
  it.each([
    [500, true],
    [502, true],
    [503, true],
    [408, true],
    [429, true],
    [200, false],
    [404, false],
    [409, false],
  ])('%i → %s', (status, transient) => {
    expect(isTransientStatus(status)).toBe(transient);
  });
});
