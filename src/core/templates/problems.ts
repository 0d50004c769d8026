// A template's problems: each with where in the document it is and a plain reason.

export interface TemplateProblem {
  /** Where in the document: `steps[1].script.actions.onRun.command`, or '' for the whole. */
  path: string;
  message: string;
}

export class TemplateError extends Error {
  constructor(readonly problems: TemplateProblem[]) {
    super(problems.map(describeProblem).join('; '));
  }
}

export function describeProblem(p: TemplateProblem): string {
  return p.path ? `${p.path}: ${p.message}` : p.message;
}

/** `/steps/0/script` (a JSON pointer) as `steps[0].script`. */
export function pointerToPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(part) ? `[${part}]` : out ? `.${part}` : part;
  }
  return out;
}
