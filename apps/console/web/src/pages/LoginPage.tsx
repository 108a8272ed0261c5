import { useState, type FormEvent } from 'react';
import { login, type SessionInfo } from '../api';
import { ErrorLine } from '../components';

export function LoginPage({ onLogin }: { onLogin: (s: SessionInfo) => void }) {
  const [credential, setCredential] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    login(credential).then(onLogin, (err: Error) => {
      setError(err.message);
      setBusy(false);
    });
  };
  return (
    <form className="login" onSubmit={submit}>
      <section>
        <h2>autoheal console</h2>
        <p className="muted">
          Log in with your own API key (<code>npm run autoheal -- api-keys create …</code>) or an OIDC access token. Everything you do is recorded under
          that credential's person; you see the tenants in its scope.
        </p>
        <textarea rows={4} value={credential} onChange={(e) => setCredential(e.target.value)} placeholder="ahk_… or eyJ…" data-testid="credential" autoFocus />
        <div className="row">
          <button className="primary" type="submit" disabled={busy || credential.trim() === ''} data-testid="login">
            Log in
          </button>
        </div>
        <ErrorLine error={error} />
      </section>
    </form>
  );
}
