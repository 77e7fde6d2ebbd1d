import { useQueryClient } from '@tanstack/react-query';
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { useNavigate } from 'react-router-dom';
import { ApiError, api, loadActor, loadSession, saveActor, saveSession, setApiActor, setApiToken, setUnauthorizedHandler, type Session } from './api';
import type { Role } from './types';

interface AuthState {
  session: Session | null;
  actor: string;
  notice: string | null;
  signIn: (token: string) => Promise<Role>;
  signOut: (notice?: string) => void;
  setActor: (actor: string) => void;
  clearNotice: () => void;
}

const AuthContext = createContext<AuthState | null>(null);

/** Which role a token has: an `sk-` key is a client; otherwise ask /admin/whoami. */
async function detectRole(token: string): Promise<Role> {
  if (token.startsWith('sk-')) {
    await api('/v1/account', { token, quiet401: true });
    return 'client';
  }
  try {
    const who = await api<{ role?: string }>('/admin/whoami', { token, quiet401: true });
    if (who?.role === 'admin' || who?.role === 'finance') return who.role;
    throw new ApiError(500, 'The gateway did not say which role this token has.');
  } catch (err) {
    // a gateway without /admin/whoami yet: an admin-only route tells admin from finance
    if (!(err instanceof ApiError) || err.status !== 404) throw err;
    try {
      await api('/admin/channels', { token, quiet401: true });
      return 'admin';
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) return 'finance';
      throw e;
    }
  }
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(() => loadSession());
  const [actor, setActorState] = useState<string>(() => loadActor() ?? loadSession()?.role ?? '');
  const [notice, setNotice] = useState<string | null>(null);
  const queryClient = useQueryClient();
  const navigate = useNavigate();

  useEffect(() => {
    setApiToken(session?.token ?? null);
  }, [session]);
  useEffect(() => {
    setApiActor(session && session.role === 'admin' ? actor.trim() || session.role : null);
  }, [actor, session]);

  const signOut = useCallback(
    (message?: string) => {
      saveSession(null);
      setApiToken(null);
      setSession(null);
      setActorState('');
      queryClient.clear();
      setNotice(message ?? null);
      navigate('/sign-in', { replace: true });
    },
    [navigate, queryClient],
  );

  useEffect(() => {
    setUnauthorizedHandler(() => signOut('Your token was not accepted (401): it may have been revoked or expired. Please sign in again.'));
    return () => setUnauthorizedHandler(null);
  }, [signOut]);

  const signIn = useCallback(
    async (raw: string) => {
      const token = raw.trim();
      if (!token) throw new ApiError(400, 'Enter a token.');
      let role: Role;
      try {
        role = await detectRole(token);
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) throw new ApiError(401, 'This token was not accepted: check it and try again.');
        throw err;
      }
      const s = { token, role };
      saveSession(s);
      setApiToken(token);
      queryClient.clear();
      setSession(s);
      const a = loadActor() || role;
      setActorState(role === 'client' ? '' : a);
      if (role !== 'client') saveActor(a);
      setNotice(null);
      return role;
    },
    [queryClient],
  );

  const setActor = useCallback((a: string) => {
    setActorState(a);
    saveActor(a);
  }, []);

  const value = useMemo<AuthState>(
    () => ({ session, actor, notice, signIn, signOut, setActor, clearNotice: () => setNotice(null) }),
    [session, actor, notice, signIn, signOut, setActor],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error('useAuth outside AuthProvider');
  return ctx;
}

export { homeOf } from './routes';
