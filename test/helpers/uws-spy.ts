/**
 * Counts what JavaScript asks uWebSockets.js to do, for checks that the
 * delivery path never works per socket.
 *
 * uWebSockets.js is a native module loaded once per process, so Herald's
 * loadUws() and this helper see the same exports object: wrapping `App` there
 * (before the node starts) catches the node's app and its `publish`; the
 * WebSocket methods live on one prototype shared by every socket of every app,
 * reached here by opening one socket to a scratch app.
 */
import { createRequire } from 'node:module';
import WebSocket from 'ws';
import type * as UWS from 'uWebSockets.js';

type AnyFunction = (...args: unknown[]) => unknown;

export interface UwsSpy {
  /** Every app.publish(topic, message) of apps created after install, in order. */
  readonly appPublishes: { topic: string; message: string }[];
  /** Calls of each per-socket (WebSocket prototype) method since the last reset. */
  readonly socketCalls: Map<string, number>;
  reset(): void;
  /** Puts every wrapped function back. */
  uninstall(): void;
}

const uws = createRequire(import.meta.url)('uWebSockets.js') as typeof UWS;

/** The prototype every uWebSockets.js WebSocket object shares. */
async function webSocketPrototype(): Promise<Record<string, unknown>> {
  const app = uws.App();
  let listenSocket: UWS.us_listen_socket | false = false;
  const prototype = new Promise<Record<string, unknown>>((resolve) => {
    app.ws('/', { open: (ws) => resolve(Object.getPrototypeOf(ws) as Record<string, unknown>) });
  });
  const port = await new Promise<number>((resolve, reject) =>
    app.listen('127.0.0.1', 0, (socket) => {
      listenSocket = socket;
      if (socket) resolve(uws.us_socket_local_port(socket as never));
      else reject(new Error('scratch uWebSockets.js app cannot listen'));
    }),
  );
  const client = new WebSocket(`ws://127.0.0.1:${port}/`);
  client.on('error', () => undefined);
  try {
    return await Promise.race([
      prototype,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('scratch WebSocket did not open within 5000 ms')), 5000)),
    ]);
  } finally {
    client.terminate();
    if (listenSocket) uws.us_listen_socket_close(listenSocket);
  }
}

export async function installUwsSpy(): Promise<UwsSpy> {
  const appPublishes: UwsSpy['appPublishes'] = [];
  const socketCalls = new Map<string, number>();
  const undo: (() => void)[] = [];

  const exports = uws as unknown as Record<string, AnyFunction>;
  const originalApp = exports.App!;
  exports.App = function App(this: unknown, ...args: unknown[]) {
    const app = originalApp.apply(this, args) as Record<string, AnyFunction>;
    const publish = app.publish!;
    app.publish = function (this: unknown, topic: unknown, message: unknown, ...rest: unknown[]) {
      appPublishes.push({ topic: String(topic), message: typeof message === 'string' ? message : Buffer.from(message as ArrayBuffer).toString('utf8') });
      return publish.call(this, topic, message, ...rest);
    };
    return app;
  };
  undo.push(() => {
    exports.App = originalApp;
  });

  const prototype = await webSocketPrototype();
  for (const name of Object.getOwnPropertyNames(prototype)) {
    const original = prototype[name];
    if (name === 'constructor' || typeof original !== 'function') continue;
    prototype[name] = function (this: unknown, ...args: unknown[]) {
      socketCalls.set(name, (socketCalls.get(name) ?? 0) + 1);
      return (original as AnyFunction).apply(this, args);
    };
    undo.push(() => {
      prototype[name] = original;
    });
  }

  return {
    appPublishes,
    socketCalls,
    reset() {
      appPublishes.length = 0;
      socketCalls.clear();
    },
    uninstall() {
      for (const step of undo.reverse()) step();
    },
  };
}
