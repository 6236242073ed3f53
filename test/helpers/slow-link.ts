/**
 * A TCP proxy whose chosen connections carry at most a given number of bytes
 * per second towards the server, as a slow or distant link would. On
 * loopback, restoring thousands of Redis subscriptions takes a millisecond or
 * two, so a node that announced itself ready before its restore was done
 * would look right by luck; over a slow link the restore takes as long as it
 * does in production and the order of events shows.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface SlowLinkOptions {
  readonly bytesPerSecond: number;
  /** Decides from what a connection has sent so far whether it is slowed from now on (once slowed, it stays so). */
  readonly slow: (sentSoFar: string) => boolean;
}

export interface SlowLink {
  readonly port: number;
  /** How many connections have been slowed so far. */
  slowed(): number;
  close(): Promise<void>;
}

const TICK_MS = 10;

export async function startSlowLink(targetHost: string, targetPort: number, options: SlowLinkOptions): Promise<SlowLink> {
  const open = new Set<Socket>();
  let slowedCount = 0;
  const perTick = Math.max(1, Math.floor((options.bytesPerSecond * TICK_MS) / 1000));
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    open.add(client);
    open.add(upstream);
    let sent = '';
    let slowed = false;
    const queue: Buffer[] = [];
    const timer = setInterval(() => {
      let budget = perTick;
      while (budget > 0 && queue.length > 0) {
        const head = queue[0]!;
        if (head.length <= budget) {
          queue.shift();
          budget -= head.length;
          upstream.write(head);
        } else {
          upstream.write(head.subarray(0, budget));
          queue[0] = head.subarray(budget);
          budget = 0;
        }
      }
    }, TICK_MS);
    client.on('data', (chunk: Buffer) => {
      if (!slowed) {
        if (sent.length < 10_000) sent += chunk.toString('latin1');
        if (options.slow(sent)) {
          slowed = true;
          slowedCount++;
        }
      }
      if (slowed) queue.push(chunk);
      else upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = (): void => {
      clearInterval(timer);
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    for (const socket of [client, upstream]) {
      socket.on('close', end);
      socket.on('error', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    slowed: () => slowedCount,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
