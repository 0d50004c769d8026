// How many GPUs this agent offers: `--gpus N` when given, else what `nvidia-smi` lists (0 where
// it is not installed or fails). Reported at join, matched against jobs' `--gpus`.
import { execFileSync } from 'node:child_process';

export function detectGpus(): number {
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=index', '--format=csv,noheader'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
    return out.split('\n').filter((line) => line.trim().length > 0).length;
  } catch {
    return 0;
  }
}
