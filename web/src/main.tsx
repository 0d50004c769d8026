// Drover web app: sign-in, jobs, new job, job page with task logs, workers and users.
import { render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, ApiError, messageOf, setUnauthorizedHandler, type User } from './api.ts';
import { href, navigate, useRoute } from './router.ts';
import { Spinner, Unavailable } from './components.tsx';
import { Login } from './pages/Login.tsx';
import { Jobs } from './pages/Jobs.tsx';
import { NewJob } from './pages/NewJob.tsx';
import { JobPage } from './pages/JobPage.tsx';
import { Workers } from './pages/Workers.tsx';
import { WorkerPage } from './pages/WorkerPage.tsx';
import { Users } from './pages/Users.tsx';
import { Account } from './pages/Account.tsx';
import { Audit } from './pages/Audit.tsx';
import { Usage } from './pages/Usage.tsx';
import './styles.css';

type Session = { state: 'loading' } | { state: 'out'; error?: string } | { state: 'in'; user: User };

const BACK_TO_JOBS = { to: '/jobs', label: 'Back to the jobs' };

function App() {
  const route = useRoute();
  const [session, setSession] = useState<Session>({ state: 'loading' });

  useEffect(() => {
    setUnauthorizedHandler(() => setSession({ state: 'out' }));
    api<User>('auth/me', { quiet401: true })
      .then((user) => setSession({ state: 'in', user }))
      .catch((error) =>
        setSession(error instanceof ApiError && error.status === 401 ? { state: 'out' } : { state: 'out', error: messageOf(error) }),
      );
  }, []);

  const signedIn = useCallback((user: User) => {
    setSession({ state: 'in', user });
    const next = parseNext();
    navigate(next, true);
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api('auth/logout', { method: 'POST', quiet401: true });
    } catch {
      // signed out either way
    }
    setSession({ state: 'out' });
    navigate('/login', true);
  }, []);

  if (session.state === 'loading') {
    return (
      <div class="boot">
        <Spinner />
      </div>
    );
  }

  if (session.state === 'out') {
    return <Login onSignedIn={signedIn} initialError={session.error} />;
  }

  const user = session.user;
  const [section = 'jobs', id, extra] = route.path;
  let page;
  if (section === 'login') {
    // already signed in: go to the job list
    queueMicrotask(() => navigate('/jobs', true));
    page = null;
  } else if (section === 'jobs' && id === 'new') {
    page = <NewJob params={route.params} />;
  } else if (section === 'jobs' && id) {
    page = <JobPage key={id} jobId={id} params={route.params} sub={extra} />;
  } else if (section === 'jobs') {
    page = <Jobs params={route.params} user={user} />;
  } else if (section === 'workers' && id) {
    page = <WorkerPage key={id} workerId={id} admin={user.admin} />;
  } else if (section === 'workers') {
    page = <Workers admin={user.admin} />;
  } else if (section === 'account') {
    page = <Account me={user} />;
  } else if (section === 'usage') {
    page = <Usage params={route.params} me={user} />;
  } else if (section === 'audit' && user.admin) {
    page = <Audit params={route.params} />;
  } else if (section === 'users' && user.admin) {
    page = <Users me={user} />;
  } else if (section === 'users') {
    // Not even asked of the coordinator: it would answer 403.
    page = <Unavailable title="Users" testid="admins-only" note="Only administrators manage users. Ask one to add people or change roles." back={BACK_TO_JOBS} />;
  } else {
    page = <Unavailable title="Page not found" testid="not-found" back={BACK_TO_JOBS} />;
  }

  const nav = [
    { key: 'jobs', label: 'Jobs', to: '/jobs' },
    { key: 'workers', label: 'Workers', to: '/workers' },
    { key: 'usage', label: 'Usage', to: '/usage' },
    ...(user.admin ? [{ key: 'users', label: 'Users', to: '/users' }, { key: 'audit', label: 'Audit', to: '/audit' }] : []),
  ];
  const activeNav = section;

  return (
    <div class="shell">
      <header class="topbar">
        <a class="brand" href={href('/jobs')} aria-label="Drover home">
          <span class="brand-mark" aria-hidden="true">
            D
          </span>
          <span class="brand-name">Drover</span>
        </a>
        <nav class="nav" aria-label="Main">
          {nav.map((item) => (
            <a
              key={item.key}
              href={href(item.to)}
              class={`nav-link${activeNav === item.key ? ' active' : ''}`}
              aria-current={activeNav === item.key ? 'page' : undefined}
              data-testid={`nav-${item.key}`}
            >
              {item.label}
            </a>
          ))}
        </nav>
        <div class="topbar-right">
          <a class="user-chip" href={href('/account')} data-testid="current-user" title={`${user.admin ? 'Administrator' : 'User'}: your account`}>
            {user.name}
            {user.admin && <span class="user-admin">admin</span>}
          </a>
          <button type="button" class="btn btn-small btn-ghost" onClick={signOut} data-testid="sign-out">
            Sign out
          </button>
        </div>
      </header>
      <main class="content">{page}</main>
    </div>
  );
}

/** Where to go after signing in: the page that sent us to the sign-in form, or the job list. */
function parseNext(): string {
  const raw = location.hash.replace(/^#/, '');
  if (!raw || raw.startsWith('/login')) {
    const next = new URLSearchParams(raw.split('?')[1] ?? '').get('next');
    return next && next.startsWith('/') && !next.startsWith('/login') ? next : '/jobs';
  }
  return raw;
}

render(<App />, document.getElementById('app')!);
