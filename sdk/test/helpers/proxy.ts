/**
 * A TCP proxy in front of a Herald node, to cut a client's network: `cut()`
 * drops every connection through it (the client sees its socket die, as when
 * a phone loses its network), and while `down` it refuses new ones.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface Proxy {
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  down: boolean;
  cut(): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number): Promise<Proxy> {
  const open = new Set<Socket>();
  let accepted = 0;
  const state = { down: false };
  const server: Server = createServer((client) => {
    if (state.down) return client.destroy();
    accepted++;
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      open.add(a);
      a.on('error', () => b.destroy());
      a.on('close', () => {
        open.delete(a);
        b.destroy();
      });
      a.pipe(b);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get accepted() {
      return accepted;
    },
    get down() {
      return state.down;
    },
    set down(value: boolean) {
      state.down = value;
    },
    cut() {
      for (const socket of [...open]) socket.destroy();
    },
    close() {
      for (const socket of [...open]) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
