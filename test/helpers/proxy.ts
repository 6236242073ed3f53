/**
 * A TCP proxy in front of a server, for faults a real network has and a
 * killed process does not: a connection that stays open but on which nothing
 * arrives any more (a half-dead NAT entry, a subscriber wedged after a
 * failover).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface ProxiedConnection {
  readonly client: Socket;
  readonly upstream: Socket;
  /** Everything the client sent so far (text), to recognise what kind of connection it is. */
  sent: string;
  /** While true, nothing from the server reaches the client; the TCP connection stays open. */
  blackholed: boolean;
}

export interface TcpProxy {
  readonly port: number;
  readonly connections: ProxiedConnection[];
  close(): Promise<void>;
}

export async function startProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const connections: ProxiedConnection[] = [];
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    const entry: ProxiedConnection = { client, upstream, sent: '', blackholed: false };
    connections.push(entry);
    client.on('data', (chunk) => {
      if (entry.sent.length < 100_000) entry.sent += chunk.toString('latin1');
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!entry.blackholed) client.write(chunk);
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const entry of connections) {
          entry.client.destroy();
          entry.upstream.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
