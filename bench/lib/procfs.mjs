/**
 * CPU and memory of processes, read from /proc: utime+stime (field 14+15 of
 * /proc/<pid>/stat, in clock ticks) and VmRSS (/proc/<pid>/status). A process
 * with children that do its work (nginx master + worker) is measured as the
 * sum of its process tree.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let clkTck;
/** Clock ticks per second (`getconf CLK_TCK`), read once. */
export function clockTicks() {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** @param {number} pid @returns {{ ppid: number, ticks: number } | undefined} */
function stat(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
  return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
}

/** @param {number} pid @returns {number} bytes, 0 when the process is gone */
function rss(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** @param {number} root @returns {number[]} root and all its descendants */
export function processTree(root) {
  const children = new Map();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const s = stat(pid);
    if (!s) continue;
    if (!children.has(s.ppid)) children.set(s.ppid, []);
    children.get(s.ppid).push(pid);
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const c of children.get(out[i]) ?? []) out.push(c);
  return out;
}

/**
 * @param {number[]} pids
 * @returns {{ cpuSeconds: number, rssBytes: number }} summed over the pids
 */
export function usage(pids) {
  let ticks = 0;
  let bytes = 0;
  for (const pid of pids) {
    ticks += stat(pid)?.ticks ?? 0;
    bytes += rss(pid);
  }
  return { cpuSeconds: ticks / clockTicks(), rssBytes: bytes };
}

/** @param {number} pid @returns {number | null} open file descriptors (/proc/<pid>/fd), null when the process is gone */
export function openFds(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** @param {number} pid @returns {number} resident set size in bytes, 0 when the process is gone */
export function rssBytes(pid) {
  return rss(pid);
}

/**
 * CPU seconds the whole machine spent busy since boot (all processes, ours
 * and anyone else's): /proc/stat's first line, less idle and iowait.
 */
export function machineBusySeconds() {
  try {
    const fields = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    return (total - fields[3] - fields[4]) / clockTicks();
  } catch {
    return NaN;
  }
}
