// Text from tasks shown on a person's terminal. A task's output may carry escape sequences that
// would act on the viewer's terminal (set its title, clear the screen, rewrite what was shown,
// even answer back on some terminals), including an admin's reading another user's job. On a
// terminal they are shown as visible text instead; piped or redirected output stays byte-exact.

/**
 * Makes control characters visible: ESC becomes `^[`, BEL `^G`, DEL `^?`, C1 controls (such as the
 * one-byte CSI U+009B) `<U+009B>`. Tabs and newlines are kept, and so is a carriage return that ends
 * a line (CRLF); a lone carriage return, which would let a line overwrite what came before, is shown
 * as `^M`.
 */
export function visibleControls(text: string): string {
  return text.replace(/\r(?!\n)|[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f\u0080-\u009f]/g, (c) => {
    const code = c.charCodeAt(0);
    if (code < 0x20) return `^${String.fromCharCode(code + 64)}`;
    if (code === 0x7f) return '^?';
    return `<U+${code.toString(16).toUpperCase().padStart(4, '0')}>`;
  });
}

/** Whether text written to `stream` goes to a terminal and should be made safe (`--raw` says no). */
export function sanitizeFor(stream: NodeJS.WriteStream, raw: boolean | undefined): (text: string) => string {
  return stream.isTTY && !raw ? visibleControls : (text) => text;
}
