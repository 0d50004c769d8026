// What a finished task left behind, judged the same way by the agent and the coordinator.

/** Shown on a task that succeeded without leaving anything: most often a download or tool that failed quietly. */
export const NO_RESULTS_WARNING = 'the task exited 0 but wrote no file to run-result/ and printed nothing: check that it did its work';

/** The error of a task whose job requires results (`--require-results`) when it wrote no result file. */
export const RESULTS_REQUIRED_ERROR = 'the task exited 0 but wrote no file to run-result/, and this job requires results (--require-results)';

export interface TaskLeftovers {
  exitCode: number | null;
  /** Files the task wrote under run-result/. */
  resultFiles: number;
  stdoutBytes: number;
}

/** A success that left no result file and printed nothing: worth a warning. */
export function producedNothing(t: TaskLeftovers): boolean {
  return t.exitCode === 0 && t.resultFiles === 0 && t.stdoutBytes === 0;
}

/** A success that fails a job requiring results: no result file (printing is not a result). */
export function missingRequiredResults(t: TaskLeftovers, requireResults: boolean): boolean {
  return requireResults && t.exitCode === 0 && t.resultFiles === 0;
}
