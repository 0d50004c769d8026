// Task selections people type: `3`, `2,5-9`. Pure: no I/O.

export class TaskSpecError extends Error {}

/** The most task numbers one selection may name (a range counts each of its numbers). */
export const MAX_SELECTED_TASKS = 100_000;

/** The task numbers (1-based, as `job view` shows them) a selection names, ascending, each once. */
export function parseTaskSpec(spec: string): number[] {
  const text = spec.trim();
  if (text === '') throw new TaskSpecError('the task selection is empty: give task numbers such as 3 or 2,5-9');
  const picked = new Set<number>();
  for (const raw of text.split(',')) {
    const part = raw.trim();
    const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(part);
    if (!m) throw new TaskSpecError(`"${part}" is not a task number or range (such as 3 or 5-9)`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from < 1) throw new TaskSpecError(`task numbers start at 1, not ${from}`);
    if (to < from) throw new TaskSpecError(`the range ${part} runs backwards`);
    if (to - from + 1 + picked.size > MAX_SELECTED_TASKS) throw new TaskSpecError(`the selection names more than ${MAX_SELECTED_TASKS} tasks`);
    for (let n = from; n <= to; n++) picked.add(n);
  }
  return [...picked].sort((a, b) => a - b);
}

/** Says a sorted list of task numbers back compactly: 1-3, 7. */
export function formatTaskNumbers(numbers: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < numbers.length; ) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j]! + 1) j++;
    parts.push(j === i ? String(numbers[i]) : `${numbers[i]}-${numbers[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}
