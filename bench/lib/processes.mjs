/**
 * Every process a benchmark run starts, with its role (server, redis,
 * loadgen, publisher), so that each one's CPU and memory can be read and so
 * that all of them are killed at the end, on error, on SIGINT, and (through
 * the reaper) even when the harness itself is killed.
 */
import { fork, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { machineBusySeconds, processTree, usage } from './procfs.mjs';

const REAPER = fileURLToPath(new URL('./reaper.mjs', import.meta.url));

/** @typedef {'server' | 'redis' | 'loadgen' | 'publisher'} Role */
/**
 * @typedef {object} Tracked
 * @property {Role} role
 * @property {string} name
 * @property {import('node:child_process').ChildProcess} child
 * @property {boolean} tree  measure the whole process tree (nginx master + workers)
 * @property {Promise<number | string>} exited
 * @property {() => string} output  last few KiB of stdout+stderr, for error messages
 * @property {() => void} [cleanup]  run once it has exited (temporary directories)
 */

export class ProcessSet {
  /** @type {Tracked[]} */
  #tracked = [];
  /** @type {import('node:child_process').ChildProcess | undefined} */
  #reaper;
  /** @type {Set<number>} */
  #started = new Set();
  #stopping = false;

  #reap(op) {
    if (!this.#reaper) {
      this.#reaper = fork(REAPER, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      this.#reaper.unref();
      this.#reaper.channel?.unref();
    }
    if (this.#reaper.connected) this.#reaper.send(op);
  }

  /**
   * @param {Role} role
   * @param {string} name
   * @param {import('node:child_process').ChildProcess} child
   * @param {{ tree?: boolean }} [options]
   * @returns {Tracked}
   */
  #track(role, name, child, options = {}) {
    if (this.#stopping) {
      child.kill('SIGKILL');
      throw new Error('the benchmark is stopping: no new process');
    }
    let out = '';
    const keep = (chunk) => {
      out = (out + chunk.toString()).slice(-8192);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
    /** @type {Tracked} */
    const t = { role, name, child, tree: options.tree ?? false, exited, output: () => out };
    this.#tracked.push(t);
    if (child.pid !== undefined) this.#started.add(child.pid);
    this.#reap({ add: child.pid });
    void exited.then(() => {
      this.#reap({ remove: child.pid });
      // Children of a tree (nginx workers) die with their master; the reaper forgets only the root.
    });
    return t;
  }

  /** Spawns a program; stdout and stderr are kept (tail) for diagnostics. */
  spawn(role, name, command, args, options = {}) {
    const { tree, ...spawnOptions } = options;
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
    return this.#track(role, name, child, { tree });
  }

  /** Forks a Node.js module with an IPC channel. */
  fork(role, name, modulePath, args = [], options = {}) {
    const child = fork(modulePath, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], ...options });
    return this.#track(role, name, child);
  }

  /**
   * A temporary directory that belongs to a process: removed once it has
   * stopped, or by the reaper if the harness dies first.
   * @param {Tracked} t
   * @param {string} dir
   */
  ownDir(t, dir) {
    const previous = t.cleanup;
    t.cleanup = () => {
      previous?.();
      rmSync(dir, { recursive: true, force: true });
      this.#reap({ removeDir: dir });
    };
    this.#reap({ addDir: dir });
  }

  /** @returns {number[]} the pid of every process ever started by this set */
  started() {
    return [...this.#started];
  }

  /** @returns {Tracked[]} the processes still running */
  live() {
    return this.#tracked.filter((t) => t.child.exitCode === null && t.child.signalCode === null);
  }

  /**
   * CPU seconds and RSS of every live process, keyed by name; the machine's
   * busy CPU seconds (everyone's) ride along as the non-enumerable
   * `machineBusySeconds`.
   * @returns {Record<string, { role: Role, pid: number, cpuSeconds: number, rssBytes: number }>}
   */
  sample() {
    /** @type {Record<string, any>} */
    const out = {};
    for (const t of this.live()) {
      const pids = t.tree ? processTree(t.child.pid) : [t.child.pid];
      out[t.name] = { role: t.role, pid: t.child.pid, ...usage(pids) };
    }
    Object.defineProperty(out, 'machineBusySeconds', { value: machineBusySeconds(), enumerable: false });
    return out;
  }

  /**
   * Stops one process: `signal` first, SIGKILL after `graceMs`.
   * @param {Tracked} t
   */
  async stop(t, signal = 'SIGKILL', graceMs = 5000) {
    if (t.child.exitCode !== null || t.child.signalCode !== null) {
      t.cleanup?.();
      t.cleanup = undefined;
      return;
    }
    const pids = t.tree ? processTree(t.child.pid) : [t.child.pid];
    t.child.kill(signal);
    const timer = setTimeout(() => {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }, signal === 'SIGKILL' ? 0 : graceMs);
    await t.exited;
    clearTimeout(timer);
    t.cleanup?.();
    t.cleanup = undefined;
    if (t.tree) {
      for (const pid of pids.slice(1)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
  }

  /** Kills everything still running (SIGKILL), waits for the exits, stops the reaper; no process can be started after it. */
  async stopAll() {
    this.#stopping = true;
    await Promise.all(this.#tracked.map((t) => this.stop(t)));
    this.#tracked = [];
    if (this.#reaper) {
      this.#started.add(this.#reaper.pid);
      const exited = new Promise((resolve) => this.#reaper.once('exit', resolve));
      // Unreferenced while the harness runs (it must not keep the harness alive); referenced again while
      // its exit is awaited, or a harness with nothing else to do would end with this promise unsettled.
      this.#reaper.ref();
      if (this.#reaper.connected) this.#reaper.disconnect();
      if (this.#reaper.exitCode === null && this.#reaper.signalCode === null) await exited;
    }
    this.#reaper = undefined;
  }

  /**
   * A view of this set for one of several sessions open at once: the
   * processes it starts are named `<tag>/<name>` (names key the samples),
   * and live() and sample() see only them. Stopping still goes through this set.
   * @param {string} tag
   */
  scope(tag) {
    /** @type {Set<Tracked>} */
    const own = new Set();
    const mine = (t) => {
      own.add(t);
      return t;
    };
    return {
      spawn: (role, name, command, args, options) => mine(this.spawn(role, `${tag}/${name}`, command, args, options)),
      fork: (role, name, modulePath, args, options) => mine(this.fork(role, `${tag}/${name}`, modulePath, args, options)),
      ownDir: (t, dir) => this.ownDir(t, dir),
      stop: (t, signal, graceMs) => this.stop(t, signal, graceMs),
      live: () => this.live().filter((t) => own.has(t)),
      started: () => [...own].map((t) => t.child.pid),
      sample: () => {
        const all = this.sample();
        /** @type {Record<string, any>} */
        const out = {};
        for (const t of own) if (all[t.name] !== undefined) out[t.name] = all[t.name];
        Object.defineProperty(out, 'machineBusySeconds', { value: all.machineBusySeconds, enumerable: false });
        return out;
      },
    };
  }

  /** Synchronous last resort for process 'exit' handlers. */
  killAllSync() {
    for (const t of this.live()) {
      const pids = t.tree ? processTree(t.child.pid) : [t.child.pid];
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
  }
}
