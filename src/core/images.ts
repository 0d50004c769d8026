// What a user's image name and a container image reference may look like. Checked on the
// coordinator when a job is created and again on the agent before the reference reaches the
// engine's command line, where a reference starting with "-" would be read as an option.

const NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
/** host[:port]/path[:tag][@digest], loosely: the engine itself refuses malformed ones clearly. */
const REF = /^[A-Za-z0-9][A-Za-z0-9._\-/:@+]{0,499}$/;

export function imageNameProblem(name: string): string | null {
  if (NAME.test(name)) return null;
  return `image name "${name}" must be 1-64 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit`;
}

export function imageRefProblem(ref: string): string | null {
  if (!REF.test(ref)) return `"${ref}" is not a container image reference (like registry.example.com/team/tool:1.2 or python:3.12)`;
  if (ref.includes('//') || ref.endsWith('/') || ref.endsWith(':') || ref.endsWith('@')) return `"${ref}" is not a valid container image reference`;
  return null;
}
