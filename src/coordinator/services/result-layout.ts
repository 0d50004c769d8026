// The folder names of a job's results, shared by every kind's layout (see results.ts).

export const taskFolder = (index: number): string => `task-${String(index).padStart(4, '0')}`;

/** A step name as a folder name: no separators or control characters. */
export function stepFolder(name: string): string {
  const safe = name.replace(/[\u0000-\u001f\u007f/\\]/g, '_').replace(/^\.+$/, '_');
  return safe.slice(0, 100) || '_';
}

export const pick = (f: { sha256: string; size: number }) => ({ sha256: f.sha256, size: f.size });
