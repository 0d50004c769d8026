// The shared store suite on SQLite, the embedded default: a fresh database file per test.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlite } from '../../src/store/database.js';
import { storeSuite } from './store-suite.js';

storeSuite({
  dialect: 'sqlite',
  async open() {
    const dir = await mkdtemp(join(tmpdir(), 'drover-sqlite-'));
    return { handle: openSqlite(join(dir, 'drover.sqlite')), dispose: () => rm(dir, { recursive: true, force: true }) };
  },
});
