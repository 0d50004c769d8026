// Usage (#/usage): core-hours and GPU-hours per day (a bar chart), per user and per job, from the
// coordinator's usage ledger (failed attempts count; deleted jobs too). People see their own, admins
// everyone's or one user's. The range and user are kept in the address.
import { useEffect, useState } from 'preact/hooks';
import { api, messageOf, type UsageReport, type User } from '../api.ts';
import { ErrorBanner, PageHeader } from '../components.tsx';
import { useDocumentTitle } from '../hooks.ts';
import { href, navigate } from '../router.ts';

const DAY_MS = 86_400_000;
const dayText = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Core-hours, short: 0.42, 12.5, 1,234. */
export function hours(seconds: number): string {
  const h = seconds / 3600;
  if (h === 0) return '0';
  if (h < 0.01) return '<0.01';
  return h >= 100 ? Math.round(h).toLocaleString('en-US') : String(Math.round(h * 100) / 100);
}

/** Every day from `since` to `until` (at most a year of them), each with its core- and GPU-seconds. */
function dailyTotals(report: UsageReport, since: string, until: string): { day: string; coreSeconds: number; gpuSeconds: number }[] {
  const byDay = new Map<string, { coreSeconds: number; gpuSeconds: number }>();
  for (const d of report.days) {
    const t = byDay.get(d.day) ?? { coreSeconds: 0, gpuSeconds: 0 };
    t.coreSeconds += d.coreSeconds;
    t.gpuSeconds += d.gpuSeconds;
    byDay.set(d.day, t);
  }
  const out = [];
  const end = Date.parse(until);
  for (let t = Math.max(Date.parse(since), end - 365 * DAY_MS); t <= end; t += DAY_MS) {
    const day = dayText(t);
    out.push({ day, ...(byDay.get(day) ?? { coreSeconds: 0, gpuSeconds: 0 }) });
  }
  return out;
}

function DayChart({ days }: { days: { day: string; coreSeconds: number; gpuSeconds: number }[] }) {
  const most = Math.max(...days.map((d) => d.coreSeconds), 1);
  const width = 720;
  const height = 160;
  const gap = days.length > 60 ? 0 : 2;
  const slot = width / Math.max(days.length, 1);
  return (
    <figure class="usage-chart" data-testid="usage-chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`Core-hours per day, ${days[0]?.day ?? ''} to ${days[days.length - 1]?.day ?? ''}; the highest ${hours(most)}`} preserveAspectRatio="none">
        <line x1="0" x2={width} y1={height} y2={height} class="usage-axis" />
        {days.map((d, i) => {
          const h = (d.coreSeconds / most) * (height - 4);
          return (
            <rect key={d.day} data-testid="usage-bar" data-day={d.day} data-core-seconds={d.coreSeconds} x={i * slot + gap / 2} y={height - h} width={Math.max(slot - gap, 0.5)} height={h} class="usage-bar">
              <title>{`${d.day}: ${hours(d.coreSeconds)} core-hours${d.gpuSeconds > 0 ? `, ${hours(d.gpuSeconds)} GPU-hours` : ''}`}</title>
            </rect>
          );
        })}
      </svg>
      {/* HTML, not SVG text: the drawing stretches to the width, and its text would stretch with it. */}
      <div class="usage-ticks" aria-hidden="true">
        <span>{days[0]?.day}</span>
        <span>{days[days.length - 1]?.day}</span>
      </div>
      <figcaption class="muted">Core-hours per day (UTC); the highest day {hours(most)}. Hover a bar for its numbers.</figcaption>
    </figure>
  );
}

export function Usage({ params, me }: { params: URLSearchParams; me: User }) {
  const today = dayText(Date.now());
  const since = params.get('since') || dayText(Date.now() - 29 * DAY_MS);
  const until = params.get('until') || today;
  const user = params.get('user') ?? '';
  const [report, setReport] = useState<UsageReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [userField, setUserField] = useState(user);
  useDocumentTitle('Usage');

  useEffect(() => {
    const q = new URLSearchParams({ since, until });
    if (user) q.set('user', user);
    setReport(null);
    api<UsageReport>(`usage?${q}`)
      .then((r) => {
        setReport(r);
        setError(null);
      })
      .catch((e) => setError(messageOf(e)));
  }, [since, until, user]);

  const go = (change: Record<string, string>) => navigate(href('/usage', { since, until, user, ...change }), true);
  const total = report?.users.reduce((n, u) => n + u.coreSeconds, 0) ?? 0;
  const gpuTotal = report?.users.reduce((n, u) => n + u.gpuSeconds, 0) ?? 0;

  return (
    <div class="page" data-testid="usage-page">
      <PageHeader title="Usage" sub={me.admin ? "Core-hours and GPU-hours everyone's tasks used, failed attempts and deleted jobs included" : 'Core-hours and GPU-hours your tasks used, failed attempts and deleted jobs included'} />
      <form
        class="panel form form-inline"
        aria-label="Choose the days"
        onSubmit={(e) => {
          e.preventDefault();
          go({ user: userField.trim() });
        }}
      >
        <label class="field">
          <span>From</span>
          <input name="usage-since" type="date" value={since} max={until} onChange={(e) => e.currentTarget.value && go({ since: e.currentTarget.value })} />
        </label>
        <label class="field">
          <span>To</span>
          <input name="usage-until" type="date" value={until} min={since} onChange={(e) => e.currentTarget.value && go({ until: e.currentTarget.value })} />
        </label>
        {me.admin && (
          <label class="field">
            <span>User</span>
            <input name="usage-user" autocomplete="off" placeholder="everyone" value={userField} onInput={(e) => setUserField(e.currentTarget.value)} onBlur={() => userField.trim() !== user && go({ user: userField.trim() })} />
          </label>
        )}
        <button type="submit" class="btn">
          Show
        </button>
      </form>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {report && (
        <>
          <div class="panel">
            <p class="usage-total" data-testid="usage-total">
              <strong>{hours(total)}</strong> core-hours{gpuTotal > 0 && <>, <strong>{hours(gpuTotal)}</strong> GPU-hours</>} from {since} to {until}
            </p>
            <DayChart days={dailyTotals(report, since, until)} />
          </div>
          <h2 class="usage-heading">Per user</h2>
          <div class="table-wrap">
            <table class="table" data-testid="usage-users">
              <thead>
                <tr>
                  <th>User</th>
                  <th class="num">Core-hours</th>
                  <th class="num">GPU-hours</th>
                  <th class="num">Jobs</th>
                  <th class="num hide-xs">Tasks</th>
                  <th class="num hide-xs">Attempts</th>
                </tr>
              </thead>
              <tbody>
                {report.users.map((u) => (
                  <tr key={u.user} data-testid="usage-user-row" data-user={u.user} data-core-seconds={u.coreSeconds}>
                    <td>{u.user}</td>
                    <td class="num">{hours(u.coreSeconds)}</td>
                    <td class="num">{hours(u.gpuSeconds)}</td>
                    <td class="num">{u.jobs}</td>
                    <td class="num hide-xs">{u.tasks}</td>
                    <td class="num hide-xs">{u.attempts}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {report.users.length === 0 && <div class="loading-row">No usage in these days.</div>}
          </div>
          <h2 class="usage-heading">Per job</h2>
          <div class="table-wrap">
            <table class="table" data-testid="usage-jobs">
              <thead>
                <tr>
                  <th>Job</th>
                  {me.admin && <th>User</th>}
                  <th class="num">Core-hours</th>
                  <th class="num">GPU-hours</th>
                  <th class="num hide-xs">Tasks</th>
                </tr>
              </thead>
              <tbody>
                {report.jobs.map((j) => (
                  <tr key={j.jobId} data-testid="usage-job-row" data-job={j.jobId}>
                    <td class="usage-job">
                      {j.deleted ? (
                        <span title={j.jobId}>
                          {j.name} <span class="muted">(deleted)</span>
                        </span>
                      ) : (
                        <a href={href(`/jobs/${j.jobId}`)} title={j.jobId}>
                          {j.name}
                        </a>
                      )}
                    </td>
                    {me.admin && <td>{j.user}</td>}
                    <td class="num">{hours(j.coreSeconds)}</td>
                    <td class="num">{hours(j.gpuSeconds)}</td>
                    <td class="num hide-xs">{j.tasks}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      {!report && !error && <div class="loading-row">Loading…</div>}
    </div>
  );
}
