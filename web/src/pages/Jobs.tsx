import { useEffect, useState } from 'preact/hooks';
import { api, apiUrl, isAbort, messageOf, query, type Job, type JobActionResults, type JobList, type User } from '../api.ts';
import { Empty, ErrorBanner, PageHeader, Pager, PickBox, ProgressBar, SelectionBar, StatusBadge, Tabs, type TabItem } from '../components.tsx';
import { dateTime, duration, fullDateTime, liveDuration } from '../format.ts';
import { useDebounced, useDocumentTitle, useNow, usePoll } from '../hooks.ts';
import { href, navigate } from '../router.ts';

const PAGE_SIZE = 50;
/** `archived`: the archived jobs, whatever their state (the other tabs show only jobs not archived). */
const STATUSES = ['all', 'created', 'queued', 'running', 'done', 'error', 'canceled', 'archived'] as const;
const LABELS: Record<(typeof STATUSES)[number], string> = {
  archived: 'Archived',
  all: 'All',
  created: 'Created',
  queued: 'Queued',
  running: 'Running',
  done: 'Done',
  error: 'Error',
  canceled: 'Canceled',
};

/** Sortable columns (the coordinator's `sort` values). */
const SORTS = ['name', 'kind', 'status', 'progress', 'owner', 'size', 'submitted', 'duration'] as const;
type Sort = (typeof SORTS)[number];
/** A first click shows the newest, the furthest along and the longest first; names A to Z. */
const FIRST_ORDER: Partial<Record<Sort, 'asc' | 'desc'>> = { submitted: 'desc', progress: 'desc', duration: 'desc' };

export function Jobs({ params, user }: { params: URLSearchParams; user: User }) {
  const status = (STATUSES as readonly string[]).includes(params.get('status') ?? '') ? params.get('status')! : 'all';
  const q = params.get('q') ?? '';
  const sort: Sort = (SORTS as readonly string[]).includes(params.get('sort') ?? '') ? (params.get('sort') as Sort) : 'submitted';
  const order: 'asc' | 'desc' = params.get('order') === 'asc' ? 'asc' : 'desc';
  const owner = user.admin ? (params.get('owner') ?? '') : '';
  const [owners, setOwners] = useState<string[]>([]);
  const offset = Math.max(0, Number.parseInt(params.get('offset') ?? '0', 10) || 0);
  const [search, setSearch] = useState(q);
  const debouncedSearch = useDebounced(search, 250);
  const [data, setData] = useState<JobList | null>(null);
  const [error, setError] = useState<string | null>(null);
  /** Jobs ticked in the list, for the bulk actions. */
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [acting, setActing] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const now = useNow(1000);
  useDocumentTitle('Jobs');

  const go = (next: { status?: string; q?: string; offset?: number; sort?: Sort; order?: 'asc' | 'desc'; owner?: string }, replace = false) => {
    const s = next.status ?? status;
    const so = next.sort ?? sort;
    const o = next.order ?? order;
    navigate(
      href('/jobs', {
        status: s === 'all' ? undefined : s,
        q: (next.q ?? q) || undefined,
        owner: (next.owner ?? owner) || undefined,
        sort: so === 'submitted' && o === 'desc' ? undefined : so,
        order: so === 'submitted' && o === 'desc' ? undefined : o,
        offset: next.offset ? next.offset : undefined,
      }),
      replace,
    );
  };
  // a header click sorts by its column; a second click turns the order around
  const sortBy = (column: Sort) =>
    go({ sort: column, order: column === sort ? (order === 'asc' ? 'desc' : 'asc') : FIRST_ORDER[column] ?? 'asc', offset: 0 });

  useEffect(() => {
    if (!user.admin) return; // only admins see other people's jobs, and only they may list users
    const controller = new AbortController();
    api<{ users: User[] }>('users', { signal: controller.signal }).then(
      (answer) => setOwners(answer.users.map((u) => u.name).sort()),
      () => undefined,
    );
    return () => controller.abort();
  }, [user.admin]);

  useEffect(() => {
    if (debouncedSearch.trim() !== q) go({ q: debouncedSearch.trim(), offset: 0 }, true);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [debouncedSearch]);

  usePoll(
    async (signal) => {
      try {
        const list = await api<JobList>(
          `jobs${query({ status: status === 'all' || status === 'archived' ? undefined : status, archived: status === 'archived' ? 'true' : undefined, q: q || undefined, owner: owner || undefined, sort, order, offset, limit: PAGE_SIZE })}`,
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
    [status, q, offset, sort, order, owner],
  );

  const counts = data?.countsByStatus;
  const tabs: TabItem[] = STATUSES.map((key) => ({ key, label: LABELS[key], count: key === 'archived' ? (status === 'archived' ? data?.total : undefined) : status === 'archived' ? undefined : counts?.[key] }));

  const act = async (action: 'start' | 'stop' | 'retry' | 'archive' | 'unarchive' | 'delete') => {
    const ids = [...picked];
    if (action === 'delete' && !confirm(`Delete ${ids.length} job(s) for good? Their tasks, logs and results are removed.`)) return;
    if (action === 'stop' && !confirm(`Stop ${ids.length} job(s)? Running tasks are killed.`)) return;
    setActing(true);
    try {
      const answer = await api<JobActionResults>('jobs/actions', { method: 'POST', body: { action, ids } });
      const refused = answer.results.filter((r) => !r.ok);
      const done = answer.results.length - refused.length;
      setNotice(`${action[0]!.toUpperCase()}${action.slice(1)}: ${done} job(s) done${refused.length ? `; ${refused.length} refused: ${refused.map((r) => r.error).join('; ')}` : ''}.`);
      setPicked(new Set(refused.map((r) => r.id)));
      setError(null);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setActing(false);
    }
  };
  const shown = data?.jobs ?? [];
  const allPicked = shown.length > 0 && shown.every((j) => picked.has(j.id));

  return (
    <div class="page" data-testid="jobs-page">
      {/* The count's line is kept (blank) until the first list arrives: its arrival must not move
          the header's buttons (they sit at its bottom), or a click meant for "New job" lands beside it. */}
      <PageHeader title="Jobs" sub={counts ? `${counts.all.toLocaleString('en-US')} ${user.admin ? 'on the farm' : 'submitted by you'}` : '\u00a0'}>
        <input
          type="search"
          class="search"
          placeholder="Search by name…"
          aria-label="Search jobs by name"
          data-testid="job-search"
          value={search}
          onInput={(e) => setSearch(e.currentTarget.value)}
        />
        {user.admin && (
          <select class="owner-filter" aria-label="Owner" value={owner} onChange={(e) => go({ owner: e.currentTarget.value, offset: 0 })} data-testid="owner-filter">
            <option value="">Everyone</option>
            {owners.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        )}
        <a class="btn btn-primary" href={href('/jobs/new')} data-testid="new-job">
          + New job
        </a>
      </PageHeader>
      <Tabs label="Job status" items={tabs} active={status} onSelect={(key) => go({ status: key, offset: 0 })} />
      <ErrorBanner error={error} />
      {notice && (
        <div class="banner banner-ok" role="status" data-testid="job-action-notice">
          {notice}
        </div>
      )}
      {picked.size > 0 && (
        <SelectionBar count={picked.size} noun="job" testid="job-selection" onClear={() => setPicked(new Set())}>
          {(status === 'archived' ? (['unarchive', 'delete'] as const) : (['start', 'stop', 'retry', 'archive', 'delete'] as const)).map((action) => (
            <button key={action} type="button" class={`btn${action === 'delete' || action === 'stop' ? ' btn-danger' : ''}`} disabled={acting} onClick={() => act(action)} data-testid={`jobs-${action}`}>
              {action[0]!.toUpperCase() + action.slice(1)}
            </button>
          ))}
        </SelectionBar>
      )}
      <div class="table-wrap">
        <table class="table table-jobs" data-testid="job-table">
          <thead>
            <tr>
              <th class="col-pick">
                <PickBox
                  label="Select every job on this page"
                  testid="job-pick-all"
                  checked={allPicked}
                  onPick={(on) => setPicked(on ? new Set([...picked, ...shown.map((j) => j.id)]) : new Set())}
                />
              </th>
              <SortHeader column="name" label="Name" sort={sort} order={order} onSort={sortBy} />
              <SortHeader column="kind" label="Kind" sort={sort} order={order} onSort={sortBy} class="col-kind" />
              <SortHeader column="status" label="Status" sort={sort} order={order} onSort={sortBy} class="col-status" />
              <SortHeader column="progress" label="Progress" sort={sort} order={order} onSort={sortBy} class="col-progress" />
              <SortHeader column="owner" label="Owner" sort={sort} order={order} onSort={sortBy} class="hide-sm" />
              <SortHeader column="size" label="Size" sort={sort} order={order} onSort={sortBy} class="hide-sm" />
              <SortHeader column="submitted" label="Submitted" sort={sort} order={order} onSort={sortBy} class="hide-xs" />
              <SortHeader column="duration" label="Duration" sort={sort} order={order} onSort={sortBy} class="num hide-xs" />
            </tr>
          </thead>
          <tbody>
            {data?.jobs.map((job) => (
              <JobRow
                key={job.id}
                job={job}
                now={now}
                picked={picked.has(job.id)}
                onPick={(on) => {
                  const next = new Set(picked);
                  if (on) next.add(job.id);
                  else next.delete(job.id);
                  setPicked(next);
                }}
              />
            ))}
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

function SortHeader(props: { column: Sort; label: string; sort: Sort; order: 'asc' | 'desc'; onSort: (column: Sort) => void; class?: string }) {
  const active = props.sort === props.column;
  return (
    <th class={props.class} aria-sort={active ? (props.order === 'asc' ? 'ascending' : 'descending') : 'none'}>
      <button type="button" class={`sort${active ? ' active' : ''}`} onClick={() => props.onSort(props.column)} data-testid={`sort-${props.column}`}>
        {props.label}
        <span class="sort-mark" aria-hidden="true">
          {active ? (props.order === 'asc' ? '▲' : '▼') : ''}
        </span>
      </button>
    </th>
  );
}

/** Why a job that is not running yet waits, in a few words (the whole reason in its title). */
function waitingReason(job: Job): { text: string; title: string } | null {
  if (job.status === 'created') return { text: 'not started', title: 'Created without starting: start it from its page' };
  if (job.status !== 'queued') return null;
  if (job.unschedulable) return { text: 'cannot be scheduled', title: job.unschedulable };
  // The coordinator's sentence: priority ahead, a job it runs after, labels no agent has, …
  if (job.waiting) return { text: job.waiting, title: job.waiting };
  return { text: 'starting', title: 'Nothing holds it back: an agent takes its tasks at its next request' };
}

function JobRow({ job, now, picked, onPick }: { job: Job; now: number; picked: boolean; onPick: (on: boolean) => void }) {
  const waiting = waitingReason(job);
  const last = job.render?.lastFrame;
  const link = href(`/jobs/${encodeURIComponent(job.id)}`);
  return (
    <tr
      class="row-link"
      data-testid="job-row"
      data-job-id={job.id}
      data-status={job.status}
      onClick={(e) => {
        if ((e.target as HTMLElement).closest('a, .col-pick')) return;
        navigate(link);
      }}
    >
      <td class="col-pick">
        <PickBox label={`Select job ${job.name}`} testid="job-pick" checked={picked} onPick={onPick} />
      </td>
      <td class="col-name">
        <a href={link} class="job-name" data-testid="job-link">
          {job.name}
        </a>
        <span class="sub mono">
          {job.id}
          {job.unschedulable && job.status !== 'queued' && (
            <span class="warn-dot" title={job.unschedulable}>
              {' '}
              ⚠ unschedulable
            </span>
          )}
        </span>
      </td>
      <td class="col-kind" data-testid="job-kind" data-kind={job.kind}>
        {job.kind === 'render' && last?.thumbnail ? (
          <img
            class="kind-thumb"
            src={apiUrl(`jobs/${encodeURIComponent(job.id)}/frames/${last.frame}/thumbnail`)}
            alt={`Frame ${last.frame}`}
            title={`render · last frame ${last.frame}`}
            loading="lazy"
            data-testid="job-thumb"
          />
        ) : (
          <span class={`kind kind-${job.kind}`}>{job.kind}</span>
        )}
      </td>
      <td class="col-status">
        <StatusBadge status={job.status} />
        {waiting && (
          <span class={`sub${job.unschedulable ? ' warn-text' : ''}`} data-testid="job-waiting" title={waiting.title}>
            {waiting.text}
          </span>
        )}
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
