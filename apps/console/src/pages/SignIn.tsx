import { useState, type FormEvent } from 'react';
import { useLocation, useNavigate } from 'react-router-dom';
import { useAuth } from '../auth';
import { landingFor } from '../routes';
import { ErrorBox } from '../ui';

export function SignIn() {
  const { signIn, notice, clearNotice } = useAuth();
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const navigate = useNavigate();
  const location = useLocation();

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const role = await signIn(token);
      const from = (location.state as { from?: string } | null)?.from;
      navigate(landingFor(role, from), { replace: true });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="sign-in-page">
      <form className="card sign-in" onSubmit={submit}>
        <h1>
          <span className="brand-mark" aria-hidden="true">◆</span> Gateway Console
        </h1>
        <p className="muted">Sign in with an API key (<code>sk-…</code>) to see your account, or with an admin or finance token.</p>
        {notice ? (
          <div className="state state-error" data-testid="error" role="alert">
            {notice}
          </div>
        ) : null}
        <label className="field">
          <span>Token</span>
          <input
            data-testid="token"
            type="password"
            autoComplete="off"
            spellCheck={false}
            value={token}
            autoFocus
            onChange={(e) => {
              setToken(e.target.value);
              if (notice) clearNotice();
            }}
            placeholder="sk-… or admin / finance token"
          />
        </label>
        {error ? <ErrorBox error={error} /> : null}
        <button type="submit" className="btn btn-primary" data-testid="sign-in" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p className="muted small">The token is kept in this browser tab only (session storage) and sent in the Authorization header.</p>
      </form>
    </div>
  );
}
