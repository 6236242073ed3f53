#!/usr/bin/env node
/**
 * Summarises .cpuprofile files (from `node bench/run.mjs --profile`): the
 * functions with the most self time, and the most inclusive time, so that a
 * hot path shows without opening DevTools.
 *
 *   node bench/tools/profile-summary.mjs bench/results/profiles/<file>.cpuprofile [--top 25] [--skip-ms 3000]
 *
 * --skip-ms leaves out the first milliseconds of the profile (startup, JIT warm-up).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const top = flag('--top', 25);
const skipMs = flag('--skip-ms', 0);
const files = args.filter((a, i) => !a.startsWith('--') && !['--top', '--skip-ms'].includes(args[i - 1]));
if (files.length === 0) {
  process.stderr.write('usage: profile-summary.mjs FILE.cpuprofile [--top N]\n');
  process.exit(2);
}

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const samples = new Map();
  let at = profile.startTime;
  let total = 0;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas?.[i] ?? 0;
    if ((at - profile.startTime) / 1000 < skipMs) return;
    samples.set(id, (samples.get(id) ?? 0) + 1);
    total++;
  });
  const durationMs = (profile.endTime - profile.startTime) / 1000;
  const label = (n) => {
    const f = n.callFrame;
    const where = f.url ? `${basename(f.url)}:${f.lineNumber + 1}` : '';
    return `${f.functionName || '(anonymous)'} ${where}`.trim();
  };
  const self = new Map();
  const inclusive = new Map();
  for (const [id, count] of samples) {
    const key = label(byId.get(id));
    self.set(key, (self.get(key) ?? 0) + count);
    // Each frame counted once per sample even under recursion.
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const k = label(byId.get(cur));
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + count);
    }
  }
  const idle = [...self.entries()].filter(([k]) => k.startsWith('(idle)')).reduce((s, [, v]) => s + v, 0);
  const busy = total - idle;
  const pct = (v, of) => `${((v / of) * 100).toFixed(1).padStart(5)}%`;
  process.stdout.write(`\n${file}\n  ${total} samples over ${durationMs.toFixed(0)} ms; busy (not idle) ${pct(busy, total)}\n\n  self time, % of busy samples:\n`);
  for (const [k, v] of [...self.entries()].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`  ${pct(v, busy)}  ${k}\n`);
  }
  process.stdout.write('\n  inclusive time, % of busy samples:\n');
  for (const [k, v] of [...inclusive.entries()].filter(([k]) => !k.startsWith('(idle)') && !k.startsWith('(root)')).sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`  ${pct(v, busy)}  ${k}\n`);
  }
}
