// A file that accepts at most `limit` bytes and then notes that the rest was cut.
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';

export class CappedFile {
  private readonly out: WriteStream;
  private written = 0;
  private capped = false;

  constructor(path: string, private readonly limit: number) {
    this.out = createWriteStream(path);
  }

  write(chunk: Buffer): boolean {
    if (this.capped) return true;
    if (this.written + chunk.length > this.limit) {
      this.out.write(chunk.subarray(0, Math.max(0, this.limit - this.written)));
      this.out.write(`\n[drover] output cut at ${this.limit} bytes\n`);
      this.capped = true;
      return true;
    }
    this.written += chunk.length;
    return this.out.write(chunk);
  }

  async close(): Promise<void> {
    this.out.end();
    await once(this.out, 'finish');
  }
}
