import { useEffect, useState } from 'preact/hooks';
import { api, isAbort, messageOf, query, type Job, type JobList, type User } from '../api.ts';
import { Empty, ErrorBanner, PageHeader, Pager, ProgressBar, StatusBadge, Tabs, type TabItem } from '../components.tsx';
import { dateTime, duration, fullDateTime, liveDuration } from '../format.ts';
import { useDebounced, useDocumentTitle, useNow, usePoll } from '../hooks.ts';
import { href, navigate } from '../router.ts';

const PAGE_SIZE = 50;
const STATUSES = ['all', 'created', 'queued', 'running', 'done', 'error', 'canceled'] as const;
const LABELS: Record<(typeof STATUSES)[number], string> = {
  all: 'All',
  created: 'Created',
  queued: 'Queued',
  running: 'Running',
  done: 'Done',
  error: 'Error',
  canceled: 'Canceled',
};

export function Jobs({ params, user }: { params: URLSearchParams; user: User }) {
  const status = (STATUSES as readonly string[]).includes(params.get('status') ?? '') ? params.get('status')! : 'all';
  const q = params.get('q') ?? '';
  const offset = Math.max(0, Number.parseInt(params.get('offset') ?? '0', 10) || 0);
  const [search, setSearch] = useState(q);
  const debouncedSearch = useDebounced(search, 250);
  const [data, setData] = useState<JobList | null>(null);
  const [error, setError] = useState<string | null>(null);
  const now = useNow(1000);
  useDocumentTitle('Jobs');

  const go = (next: { status?: string; q?: string; offset?: number }, replace = false) => {
    const s = next.status ?? status;
    navigate(
      href('/jobs', {
        status: s === 'all' ? undefined : s,
        q: (next.q ?? q) || undefined,
        offset: next.offset ? next.offset : undefined,
      }),
      replace,
    );
  };

  useEffect(() => {
    if (debouncedSearch.trim() !== q) go({ q: debouncedSearch.trim(), offset: 0 }, true);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [debouncedSearch]);

  usePoll(
    async (signal) => {
      try {
        const list = await api<JobList>(
          `jobs${query({ status: status === 'all' ? undefined : status, q: q || undefined, offset, limit: PAGE_SIZE })}`,
          { signal },
        );
        setData(list);
        setError(null);
        // the page we are on emptied (jobs finished or were filtered away): step back
        if (list.jobs.length === 0 && offset > 0 && list.total > 0) {
          go({ offset: Math.max(0, Math.floor((list.total - 1) / PAGE_SIZE) * PAGE_SIZE) }, true);
        }
      } catch (e) {
        if (!isAbort(e)) setError(messageOf(e));
      }
    },
    2000,
    [status, q, offset],
  );

  const counts = data?.countsByStatus;
  const tabs: TabItem[] = STATUSES.map((key) => ({ key, label: LABELS[key], count: counts?.[key] }));

  return (
    <div class="page" data-testid="jobs-page">
      <PageHeader title="Jobs" sub={counts ? `${counts.all.toLocaleString('en-US')} ${user.admin ? 'on the farm' : 'submitted by you'}` : undefined}>
        <input
          type="search"
          class="search"
          placeholder="Search by name…"
          aria-label="Search jobs by name"
          data-testid="job-search"
          value={search}
          onInput={(e) => setSearch(e.currentTarget.value)}
        />
        <a class="btn btn-primary" href={href('/jobs/new')} data-testid="new-job">
          + New job
        </a>
      </PageHeader>
      <Tabs label="Job status" items={tabs} active={status} onSelect={(key) => go({ status: key, offset: 0 })} />
      <ErrorBanner error={error} />
      <div class="table-wrap">
        <table class="table table-jobs" data-testid="job-table">
          <thead>
            <tr>
              <th>Name</th>
              <th class="col-status">Status</th>
              <th class="col-progress">Progress</th>
              <th class="hide-sm">Owner</th>
              <th class="hide-sm">Size</th>
              <th class="hide-xs">Submitted</th>
              <th class="num hide-xs">Duration</th>
            </tr>
          </thead>
          <tbody>
            {data?.jobs.map((job) => <JobRow key={job.id} job={job} now={now} />)}
          </tbody>
        </table>
        {data && data.jobs.length === 0 && (
          <Empty>
            {q ? (
              <>No job matches “{q}”.</>
            ) : status === 'all' ? (
              <>
                No jobs yet. <a href={href('/jobs/new')}>Submit the first one</a>.
              </>
            ) : (
              <>No {LABELS[status as keyof typeof LABELS].toLowerCase()} jobs.</>
            )}
          </Empty>
        )}
        {!data && !error && <div class="loading-row">Loading…</div>}
      </div>
      {data && data.total > PAGE_SIZE && (
        <Pager offset={offset} limit={PAGE_SIZE} total={data.total} onChange={(o) => go({ offset: o })} />
      )}
    </div>
  );
}

function JobRow({ job, now }: { job: Job; now: number }) {
  const link = href(`/jobs/${encodeURIComponent(job.id)}`);
  return (
    <tr
      class="row-link"
      data-testid="job-row"
      data-job-id={job.id}
      data-status={job.status}
      onClick={(e) => {
        if ((e.target as HTMLElement).closest('a')) return;
        navigate(link);
      }}
    >
      <td class="col-name">
        <a href={link} class="job-name" data-testid="job-link">
          {job.name}
        </a>
        <span class="sub mono">
          {job.id}
          {job.unschedulable && (
            <span class="warn-dot" title={job.unschedulable}>
              {' '}
              ⚠ unschedulable
            </span>
          )}
        </span>
      </td>
      <td class="col-status">
        <StatusBadge status={job.status} />
      </td>
      <td class="col-progress">
        <ProgressBar counts={job.counts} total={job.taskCount} />
      </td>
      <td class="hide-sm" data-testid="job-owner">
        {job.owner}
      </td>
      <td class="hide-sm mono">
        {job.instanceType} <span class="muted">({job.cores}c)</span>
      </td>
      <td class="hide-xs nowrap" title={fullDateTime(job.createdAt)}>
        {dateTime(job.createdAt, now)}
      </td>
      <td class="num hide-xs nowrap">{duration(liveDuration(job, now))}</td>
    </tr>
  );
}
