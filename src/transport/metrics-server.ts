/**
 * /metrics on its own port, so that the client port never exposes
 * operational data and the two can be firewalled apart.
 */
import type { TemplatedApp } from 'uWebSockets.js';
import type { Registry } from 'prom-client';
import { refuse } from './http.js';

export function attachMetricsRoutes(app: TemplatedApp, registry: Registry): void {
  app.get('/metrics', (res) => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    registry.metrics().then(
      (text) => {
        if (aborted) return;
        res.cork(() => res.writeStatus('200 OK').writeHeader('content-type', registry.contentType).end(text));
      },
      () => {
        if (!aborted) res.cork(() => res.writeStatus('500 Internal Server Error').end('metrics collection failed'));
      },
    );
  });
  app.any('/*', (res, req) => refuse(res, req, 'not_found', 'this port serves GET /metrics only'));
}
