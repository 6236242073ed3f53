/**
 * Reaper: a tiny child of the harness that kills every process the harness
 * registered (and removes their temporary directories) when the harness goes
 * away, however it goes (SIGKILL included):
 * its IPC channel closes when the parent dies. Servers such as Herald, Redis
 * and nginx never read from the harness, so without it they would outlive it.
 */
import { rmSync } from 'node:fs';
import { processTree } from './procfs.mjs';

const pids = new Set();
const dirs = new Set();

process.on('message', (m) => {
  if (m.add !== undefined) pids.add(m.add);
  if (m.remove !== undefined) pids.delete(m.remove);
  if (m.addDir !== undefined) dirs.add(m.addDir);
  if (m.removeDir !== undefined) dirs.delete(m.removeDir);
});

process.on('disconnect', () => {
  // Whole trees: an nginx worker outlives a killed master.
  const all = [...pids].flatMap((pid) => processTree(pid));
  for (const pid of all) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  // Their temporary directories (Redis, nginx), once nothing writes to them any more.
  setTimeout(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }, 200);
});
