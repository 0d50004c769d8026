// Input expansion for script jobs: which files become tasks, in which order, under which names.

/** Splits `a/*.txt,b/*.txt` into globs; commas inside braces (`{a,b}`) stay with their glob. */
export function splitGlobList(text: string): string[] {
  const globs: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '{') depth++;
    if (ch === '}') depth = Math.max(0, depth - 1);
    if (ch === ',' && depth === 0) {
      if (current.trim()) globs.push(current.trim());
      current = '';
    } else {
      current += ch;
    }
  }
  if (current.trim()) globs.push(current.trim());
  return globs;
}

/** Natural order, so job_2 comes before job_10 as a person expects. */
export function compareNatural(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true, sensitivity: 'variant' });
}

/** De-duplicates matched paths and sorts them; one task per path, in this order. */
export function orderInputs(paths: readonly string[]): string[] {
  return [...new Set(paths)].sort(compareNatural);
}

const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** Why `name` cannot be a file name inside a task directory, or null when it can. */
export function fileNameProblem(name: string): string | null {
  if (name.length === 0) return 'a file name is empty';
  if (name.length > 255) return `file name "${name.slice(0, 40)}…" is longer than 255 characters`;
  if (CONTROL_CHARS.test(name)) return `file name ${JSON.stringify(name)} contains control characters`;
  if (name.includes('/') || name.includes('\\')) return `file name "${name}" must not contain a path separator`;
  if (name === '.' || name === '..') return `file name "${name}" is not allowed`;
  return null;
}

/** Why a relative result path (posix) is unsafe, or null when it is fine. */
export function relativePathProblem(path: string): string | null {
  if (path.length === 0 || path.length > 1024) return 'a path is empty or longer than 1024 characters';
  if (CONTROL_CHARS.test(path)) return `path ${JSON.stringify(path)} contains control characters`;
  if (path.startsWith('/') || path.includes('\\')) return `path "${path}" must be relative and use /`;
  for (const part of path.split('/')) {
    if (part === '' || part === '.' || part === '..') return `path "${path}" has an empty, . or .. part`;
  }
  return null;
}

export interface NamedFile {
  name: string;
}

/**
 * Every task directory holds the script, the constants files and its own input, side by side; a
 * name used twice would overwrite one of them, so it is refused before anything is stored.
 */
export function sharedNameClashes(script: NamedFile | null, constants: readonly NamedFile[], inputs: readonly NamedFile[]): string | null {
  const shared = new Map<string, string>();
  const named = [...(script ? [[script, 'the script'] as const] : []), ...constants.map((c) => [c, 'a constants file'] as const)];
  for (const [file, role] of named) {
    const problem = fileNameProblem(file.name);
    if (problem) return problem;
    const previous = shared.get(file.name);
    if (previous) return `"${file.name}" is both ${previous} and ${role}`;
    shared.set(file.name, role);
  }
  for (const input of inputs) {
    const problem = fileNameProblem(input.name);
    if (problem) return problem;
    const previous = shared.get(input.name);
    if (previous) return `input "${input.name}" has the same name as ${previous}`;
  }
  return null;
}
