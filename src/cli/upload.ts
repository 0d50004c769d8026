// Content-addressed upload from the CLI: hash every file, ask the coordinator which it lacks,
// send only those. An unchanged file is never sent twice.
import { stat } from 'node:fs/promises';
import type { ApiClient } from '../client/api-client.js';
import { sha256File } from '../agent/result-files.js';
import { bytes } from './format.js';
import { CliError, patientRetry } from './session.js';
import type { MissingBlobsAnswer } from '../wire/blobs.js';

export interface LocalUpload {
  /** The name (or relative path) the file will have for the job. */
  name: string;
  absPath: string;
}

export interface UploadedFile {
  name: string;
  sha256: string;
  size: number;
}

export interface UploadReport {
  files: UploadedFile[];
  sentFiles: number;
  sentBytes: number;
}

export async function uploadFiles(client: ApiClient, locals: readonly LocalUpload[], opts: { quiet?: boolean } = {}): Promise<UploadReport> {
  const files: (UploadedFile & { absPath: string })[] = [];
  for (const l of locals) {
    const info = await stat(l.absPath).catch(() => null);
    if (!info) throw new CliError(`${l.absPath} does not exist`);
    if (!info.isFile()) throw new CliError(`${l.absPath} is not a file`);
    files.push({ name: l.name, absPath: l.absPath, size: info.size, sha256: await sha256File(l.absPath) });
  }
  const { missing } = await client.json<MissingBlobsAnswer>('POST', '/blobs/missing', { hashes: [...new Set(files.map((f) => f.sha256))] }, patientRetry('uploading'));
  const wanted = new Set(missing);
  const toSend = files.filter((f) => wanted.delete(f.sha256));
  const total = toSend.reduce((n, f) => n + f.size, 0);
  const showBar = !opts.quiet && process.stderr.isTTY && toSend.length > 0;
  const cliProgress = showBar ? (await import('cli-progress')).default : null; // only for a terminal
  const bar = cliProgress ? new cliProgress.SingleBar({ format: 'uploading [{bar}] {percentage}% | {value}/{total} files', stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
  bar?.start(toSend.length, 0);
  for (const f of toSend) {
    await client.uploadFile(f.sha256, f.absPath, patientRetry(`uploading ${f.name}`));
    bar?.increment();
  }
  bar?.stop();
  if (!opts.quiet && toSend.length > 0) process.stderr.write(`uploaded ${toSend.length} file(s), ${bytes(total)}; ${files.length - toSend.length} already stored\n`);
  return { files: files.map(({ name, sha256, size }) => ({ name, sha256, size })), sentFiles: toSend.length, sentBytes: total };
}
