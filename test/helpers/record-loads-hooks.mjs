// Module resolution hooks (run in Node's hooks thread) that write down each file a process loads.
// Whatever hook runs before this one (tsx maps `.js` specifiers to `.ts` files), only resolutions
// that succeeded reach the list, so it names the files actually loaded.
import { appendFileSync } from 'node:fs';

const out = process.env.DROVER_RECORD_LOADS;

export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  if (out && result.url.startsWith('file:')) appendFileSync(out, `${result.url}\n`);
  return result;
}
