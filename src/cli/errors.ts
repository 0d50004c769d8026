// The CLI's expected failures: printed as one line, never as a stack trace.
export class CliError extends Error {}
