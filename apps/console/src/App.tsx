import type { ReactElement } from 'react';
import { Navigate, NavLink, Route, Routes, useLocation } from 'react-router-dom';
import { homeOf, useAuth } from './auth';
import { AccountPage } from './pages/AccountPage';
import { Accounts } from './pages/Accounts';
import { Channels } from './pages/Channels';
import { Holds } from './pages/Holds';
import { Keys } from './pages/Keys';
import { Models } from './pages/Models';
import { Overview } from './pages/Overview';
import { Queues } from './pages/Queues';
import { Reconciliation } from './pages/Reconciliation';
import { Requests } from './pages/Requests';
import { SignIn } from './pages/SignIn';
import { ClientStatement } from './pages/Statement';
import { Tasks } from './pages/Tasks';
import { AdminUsage } from './pages/Usage';
import type { Role } from './types';

interface NavItem {
  id: string;
  to: string;
  label: string;
  roles: Role[];
  element: ReactElement;
  group?: string;
}

const NAV: NavItem[] = [
  { id: 'overview', to: '/overview', label: 'Overview', roles: ['client'], element: <Overview /> },
  { id: 'keys', to: '/keys', label: 'Keys', roles: ['client'], element: <Keys /> },
  { id: 'requests', to: '/requests', label: 'Requests', roles: ['client'], element: <Requests scope="client" /> },
  { id: 'tasks', to: '/tasks', label: 'Tasks', roles: ['client'], element: <Tasks /> },
  { id: 'statement', to: '/statement', label: 'Statement', roles: ['client'], element: <ClientStatement /> },
  { id: 'channels', to: '/channels', label: 'Channels', roles: ['admin'], element: <Channels />, group: 'Ops' },
  { id: 'models', to: '/models', label: 'Models & prices', roles: ['admin'], element: <Models />, group: 'Ops' },
  { id: 'queues', to: '/queues', label: 'Queues', roles: ['admin'], element: <Queues />, group: 'Ops' },
  { id: 'lookup', to: '/lookup', label: 'Request lookup', roles: ['admin'], element: <Requests scope="admin" />, group: 'Ops' },
  { id: 'reconciliation', to: '/reconciliation', label: 'Reconciliation', roles: ['admin', 'finance'], element: <Reconciliation />, group: 'Finance' },
  { id: 'holds', to: '/holds', label: 'Holds', roles: ['admin', 'finance'], element: <Holds />, group: 'Finance' },
  { id: 'usage', to: '/usage', label: 'Usage', roles: ['admin', 'finance'], element: <AdminUsage />, group: 'Finance' },
  { id: 'accounts', to: '/accounts', label: 'Accounts', roles: ['admin', 'finance'], element: <Accounts />, group: 'Finance' },
];

function Header() {
  const { session, actor, setActor, signOut } = useAuth();
  if (!session) return null;
  const items = NAV.filter((n) => n.roles.includes(session.role));
  let lastGroup: string | undefined;
  return (
    <header className="app-header">
      <div className="header-top">
        <a className="brand" href={`/console${homeOf(session.role)}`} onClick={(e) => e.preventDefault()}>
          <span className="brand-mark" aria-hidden="true">◆</span> Gateway Console
        </a>
        <div className="header-user">
          <span className={`role-badge role-${session.role}`} data-testid="role" title="The role of the signed-in token">
            {session.role}
          </span>
          {session.role === 'admin' ? (
            <label className="actor" title="Sent as X-TT-Actor with every change, so the audit log and ledger name you">
              <span>Actor</span>
              <input data-testid="actor" value={actor} maxLength={200} placeholder={session.role} onChange={(e) => setActor(e.target.value)} />
            </label>
          ) : null}
          <button type="button" className="btn btn-secondary" data-testid="sign-out" onClick={() => signOut()}>
            Sign out
          </button>
        </div>
      </div>
      <nav id="main-nav" className="main-nav" aria-label="Main">
        {items.map((n) => {
          const groupLabel = n.group && n.group !== lastGroup ? n.group : null;
          lastGroup = n.group;
          return (
            <span key={n.id} className="nav-item">
              {groupLabel ? <span className="nav-group">{groupLabel}</span> : null}
              <NavLink to={n.to} data-testid={`nav-${n.id}`} className={({ isActive }) => (isActive ? 'active' : undefined)}>
                {n.label}
              </NavLink>
            </span>
          );
        })}
      </nav>
    </header>
  );
}

export function App() {
  const { session } = useAuth();
  const location = useLocation();
  if (!session) {
    return (
      <Routes>
        <Route path="/sign-in" element={<SignIn />} />
        <Route path="*" element={<Navigate to="/sign-in" replace state={{ from: location.pathname }} />} />
      </Routes>
    );
  }
  const items = NAV.filter((n) => n.roles.includes(session.role));
  return (
    <div className="app">
      <Header />
      <main className="content">
        <Routes>
          {items.map((n) => (
            <Route key={n.id} path={n.to} element={n.element} />
          ))}
          {session.role === 'client' ? <Route path="/requests/:requestId" element={<Requests scope="client" />} /> : null}
          {session.role === 'client' ? <Route path="/tasks/:taskId" element={<Tasks />} /> : null}
          {session.role === 'admin' ? <Route path="/lookup/:requestId" element={<Requests scope="admin" />} /> : null}
          {session.role !== 'client' ? <Route path="/accounts/:accountId" element={<AccountPage />} /> : null}
          <Route path="/sign-in" element={<Navigate to={homeOf(session.role)} replace />} />
          <Route path="/" element={<Navigate to={homeOf(session.role)} replace />} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </main>
      <footer className="app-footer muted small">All times are UTC · amounts in USD, kept by the gateway as integer micros.</footer>
    </div>
  );
}

function NotFound() {
  const { session } = useAuth();
  return (
    <div className="card">
      <h1>Page not found</h1>
      <p>This page does not exist or is not available to the {session?.role} role.</p>
      <NavLink to={homeOf(session?.role ?? 'client')}>Go to the start page</NavLink>
    </div>
  );
}
