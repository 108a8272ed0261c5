import { clearedSessionCookie, readCookie, sessionCookie } from './cookies.js';
import { csrfMatches, SessionStore } from './session-store.js';

describe('console sessions', () => {
  it('finds a session by id until it has been idle too long, then forgets it', () => {
    let now = 1_000;
    const store = new SessionStore(60_000, () => now);
    const s = store.create('ahk_personal_key_0123456789', [{ tenantId: 'acme' }]);
    now += 59_000;
    expect(store.get(s.id)?.credential).toBe('ahk_personal_key_0123456789');
    now += 59_000; // touched by the read above: still alive
    expect(store.get(s.id)).toBeDefined();
    now += 60_001;
    expect(store.get(s.id)).toBeUndefined();
    expect(store.get(undefined)).toBeUndefined();
    expect(store.get('guessed')).toBeUndefined();
  });

  it('gives each session its own unguessable id and CSRF token, and checks the token exactly', () => {
    const store = new SessionStore(60_000, () => 0);
    const a = store.create('k'.repeat(20), []);
    const b = store.create('k'.repeat(20), []);
    expect(a.id).not.toBe(b.id);
    expect(a.csrfToken).not.toBe(b.csrfToken);
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(csrfMatches(a, a.csrfToken)).toBe(true);
    expect(csrfMatches(a, b.csrfToken)).toBe(false);
    expect(csrfMatches(a, a.csrfToken.slice(1))).toBe(false);
    expect(csrfMatches(a, undefined)).toBe(false);
    expect(csrfMatches(a, [a.csrfToken])).toBe(false);
  });

  it('deletes a session on logout', () => {
    const store = new SessionStore(60_000, () => 0);
    const s = store.create('k'.repeat(20), []);
    store.delete(s.id);
    expect(store.get(s.id)).toBeUndefined();
  });
});

describe('the session cookie', () => {
  it('is HttpOnly and SameSite=Strict, Secure when asked', () => {
    expect(sessionCookie('abc', false)).toBe('autoheal_console=abc; Path=/; HttpOnly; SameSite=Strict');
    expect(sessionCookie('abc', true)).toBe('autoheal_console=abc; Path=/; HttpOnly; SameSite=Strict; Secure');
    expect(clearedSessionCookie(false)).toContain('Max-Age=0');
  });

  it('is read from a Cookie header among others', () => {
    expect(readCookie('a=1; autoheal_console=xyz; b=2', 'autoheal_console')).toBe('xyz');
    expect(readCookie('a=1', 'autoheal_console')).toBeUndefined();
    expect(readCookie(undefined, 'autoheal_console')).toBeUndefined();
  });
});
