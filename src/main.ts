/**
 * Process entry point: configuration, logger, node, signals. Exits 0 after a
 * graceful drain on SIGTERM/SIGINT, 1 when it cannot start.
 */
import { startHerald } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { developmentBanner } from './dev.js';
import { createLogger } from './log.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`herald: cannot start, ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }

  const log = createLogger(config.logLevel);
  let herald;
  try {
    herald = await startHerald({ config, log });
  } catch (error) {
    process.stderr.write(`herald: cannot start: ${(error as Error).message}\n`);
    log.flush();
    process.exit(1);
  }

  const banner = developmentBanner(config, herald.port);
  if (banner !== undefined) {
    log.warn('DEVELOPMENT MODE: ephemeral JWT secret and/or API key generated; do not use in production');
    process.stderr.write(banner);
  }

  log.info(
    { node: herald.nodeId, port: herald.port, metricsPort: herald.metricsPort, mode: config.mode, algorithms: config.jwt.algorithms },
    `herald listening on ${config.host}:${herald.port} (metrics on :${herald.metricsPort})`,
  );
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without finishing the drain');
      log.flush();
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    herald.shutdown().then(
      () => {
        log.info('shutdown complete');
        log.flush();
        process.exit(0);
      },
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        log.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

process.on('uncaughtException', (error) => {
  process.stderr.write(`herald: uncaught exception: ${error.stack ?? String(error)}\n`);
  process.exit(1);
});

void main();
