// Shared pieces: status badges, progress bars, error banners, pagers, tabs.
import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useRef } from 'preact/hooks';
import type { TaskCounts } from './api.ts';
import { num } from './format.ts';
import { href } from './router.ts';

export function StatusBadge({ status, testid }: { status: string; testid?: string }) {
  return (
    <span class={`badge badge-${status}`} data-testid={testid ?? 'status'} data-status={status}>
      {status}
    </span>
  );
}

/** Segmented bar: done, error, canceled, running; the rest is queued. */
export function ProgressBar({
  counts,
  total,
  label = true,
  unit = 'tasks',
  testid = 'progress',
}: {
  counts: TaskCounts & { uploading?: number };
  total: number;
  label?: boolean;
  unit?: string;
  testid?: string;
}) {
  const pct = (n: number) => (total > 0 ? `${(100 * n) / total}%` : '0%');
  const finished = counts.done;
  const percent = total > 0 ? Math.floor((100 * finished) / total) : 0;
  return (
    <div class="progress" data-testid={testid} data-done={counts.done} data-total={total}>
      <div
        class="progress-bar"
        role="progressbar"
        aria-valuemin={0}
        aria-valuemax={total}
        aria-valuenow={finished}
        aria-label={`${finished} of ${total} ${unit} done`}
      >
        <span class="seg seg-done" style={{ width: pct(counts.done) }} />
        <span class="seg seg-error" style={{ width: pct(counts.error) }} />
        <span class="seg seg-canceled" style={{ width: pct(counts.canceled) }} />
        <span class="seg seg-uploading" style={{ width: pct(counts.uploading ?? 0) }} />
        <span class="seg seg-running" style={{ width: pct(counts.running) }} />
      </div>
      {label && (
        <span class="progress-label">
          {num(finished)}/{num(total)}
          <span class="muted"> · {percent}%</span>
        </span>
      )}
    </div>
  );
}

/** Brings an element into view (a form's message above the fold, after Submit at the bottom). */
export function reveal(el: Element | null | undefined): void {
  if (!el) return;
  el.scrollIntoView({ block: 'center', behavior: 'auto' });
  if (el instanceof HTMLElement) el.focus({ preventScroll: true });
}

export function ErrorBanner({ error, onDismiss, scrollIntoView }: { error: string | null | undefined; onDismiss?: () => void; scrollIntoView?: boolean }) {
  const ref = useRef<HTMLDivElement>(null);
  // Before the browser paints, in the same task as the render: the error is never on the page out of
  // view, and whoever sees it appear (a person, a test) sees it where it was brought.
  useLayoutEffect(() => {
    if (error && scrollIntoView) reveal(ref.current);
  }, [error, scrollIntoView]);
  if (!error) return null;
  return (
    <div class="banner banner-error" role="alert" data-testid="error" ref={ref} tabIndex={-1}>
      <span>{error}</span>
      {onDismiss && (
        <button type="button" class="btn-icon" aria-label="Dismiss" onClick={onDismiss}>
          ×
        </button>
      )}
    </div>
  );
}

export function Pager({
  offset,
  limit,
  total,
  onChange,
  testid = 'pager',
}: {
  offset: number;
  limit: number;
  total: number;
  onChange: (offset: number) => void;
  testid?: string;
}) {
  const page = Math.floor(offset / limit) + 1;
  const pages = Math.max(1, Math.ceil(total / limit));
  const from = total === 0 ? 0 : offset + 1;
  const to = Math.min(total, offset + limit);
  return (
    <div class="pager" data-testid={testid}>
      <span class="pager-range">
        {num(from)}–{num(to)} of {num(total)}
      </span>
      <div class="pager-buttons">
        <button type="button" class="btn btn-small" disabled={page <= 1} onClick={() => onChange(0)} aria-label="First page">
          «
        </button>
        <button
          type="button"
          class="btn btn-small"
          disabled={page <= 1}
          onClick={() => onChange(Math.max(0, offset - limit))}
          aria-label="Previous page"
        >
          ‹
        </button>
        <span class="pager-page">
          {num(page)} / {num(pages)}
        </span>
        <button
          type="button"
          class="btn btn-small"
          disabled={page >= pages}
          onClick={() => onChange(offset + limit)}
          aria-label="Next page"
        >
          ›
        </button>
        <button
          type="button"
          class="btn btn-small"
          disabled={page >= pages}
          onClick={() => onChange((pages - 1) * limit)}
          aria-label="Last page"
        >
          »
        </button>
      </div>
    </div>
  );
}

export interface TabItem {
  key: string;
  label: string;
  count?: number;
}

export function Tabs({
  items,
  active,
  onSelect,
  label,
}: {
  items: TabItem[];
  active: string;
  onSelect: (key: string) => void;
  label: string;
}) {
  return (
    <div class="tabs" role="tablist" aria-label={label}>
      {items.map((item) => (
        <button
          key={item.key}
          type="button"
          role="tab"
          class={`tab${item.key === active ? ' active' : ''}`}
          aria-selected={item.key === active}
          data-testid={`tab-${item.key}`}
          onClick={() => onSelect(item.key)}
        >
          {item.label}
          {item.count !== undefined && (
            <span class="tab-count" data-testid={`count-${item.key}`}>
              {num(item.count)}
            </span>
          )}
        </button>
      ))}
    </div>
  );
}

export function PageHeader({ title, children, sub }: { title: ComponentChildren; children?: ComponentChildren; sub?: ComponentChildren }) {
  return (
    <div class="page-header">
      <div class="page-title">
        <h1>{title}</h1>
        {sub && <div class="page-sub">{sub}</div>}
      </div>
      {children && <div class="page-actions">{children}</div>}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return (
    <div class="empty" data-testid="empty">
      {children}
    </div>
  );
}

export function Spinner() {
  return <span class="spinner" aria-label="Loading" />;
}

/** The bar over a table whose rows are ticked: how many, the actions on them, and Clear. */
export function SelectionBar({ count, noun, testid, onClear, children }: { count: number; noun: string; testid: string; onClear: () => void; children: ComponentChildren }) {
  return (
    <div class="selection-bar" data-testid={testid}>
      <span>
        {count} {noun}(s) selected
      </span>
      {children}
      <button type="button" class="btn btn-ghost" onClick={onClear}>
        Clear
      </button>
    </div>
  );
}

/** A row's tick box (or a table's "every row on this page" one). */
export function PickBox({ label, testid, checked, onPick }: { label: string; testid: string; checked: boolean; onPick: (checked: boolean) => void }) {
  return <input type="checkbox" aria-label={label} data-testid={testid} checked={checked} onChange={(e) => onPick(e.currentTarget.checked)} />;
}

/**
 * A page that cannot be shown (an unknown address, a job or agent that is not there, an admins'
 * page): its title, what is wrong when there is more to say, and the way back.
 */
export function Unavailable({ title, testid, note, back, className = 'panel' }: { title: string; testid: string; note?: ComponentChildren; back: { to: string; label: string }; className?: string }) {
  return (
    <div class={className} data-testid={testid}>
      <h1>{title}</h1>
      {note !== undefined && <p class="muted">{note}</p>}
      <p>
        <a href={href(back.to)}>{back.label}</a>
      </p>
    </div>
  );
}
