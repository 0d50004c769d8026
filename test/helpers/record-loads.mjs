// `node --import` this file to list every module the process loads: each resolved file: URL is
// appended to the file named by DROVER_RECORD_LOADS (see record-loads-hooks.mjs). Plain JavaScript,
// so it works before tsx is registered.
import { register } from 'node:module';

register(new URL('./record-loads-hooks.mjs', import.meta.url));
