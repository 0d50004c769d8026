// The shared store suites (store-suite.ts, leasing-suite.ts) on SQLite, the embedded default: a fresh database file per test.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlite } from '../../src/store/database.js';
import { leasingSuite } from './leasing-suite.js';
import type { StoreUnderTest } from './store-env.js';
import { storeSuite } from './store-suite.js';

const store: StoreUnderTest = {
  dialect: 'sqlite',
  async open() {
    const dir = await mkdtemp(join(tmpdir(), 'drover-sqlite-'));
    return { handle: openSqlite(join(dir, 'drover.sqlite')), dispose: () => rm(dir, { recursive: true, force: true }) };
  },
};
storeSuite(store);
leasingSuite(store);
