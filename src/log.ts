/**
 * The root pino logger. Components take a child logger with their own
 * bindings ({ component }, { conn, sub }); tokens, secrets and API keys are
 * redacted wherever they might be attached by mistake.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

const REDACT = [
  'token', '*.token', 'authorization', '*.authorization', 'headers.authorization',
  'secret', '*.secret', 'apiKey', '*.apiKey', 'apiKeys', '*.apiKeys',
];

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'herald' },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
