/**
 * Loads uWebSockets.js and refuses its pure-JavaScript fallback.
 *
 * The package Herald installs (an npm build of uWebSockets.js, see README)
 * quietly substitutes a `ws`-based imitation when its native binary cannot be
 * loaded, which would run Herald at a fraction of its speed with subtly
 * different semantics. The native module exports `H3App`; the imitation does not.
 */
import { createRequire } from 'node:module';
import type * as UWS from 'uWebSockets.js';

export type { UWS };

export class NativeUwsMissingError extends Error {
  constructor() {
    super(
      'uWebSockets.js loaded its JavaScript fallback instead of the native binary, so Herald will not start. ' +
        `This Node.js (${process.version}, ABI ${process.versions.modules}, ${process.platform}-${process.arch}) has no matching binary in the installed package, ` +
        'or UWS_USE_FALLBACK is set. Use Node.js 20 on Linux/glibc (see README, "Runtime and uWebSockets.js"), or install upstream uWebSockets.js on glibc >= 2.38.',
    );
    this.name = 'NativeUwsMissingError';
  }
}

export function loadUws(): typeof UWS {
  const uws = createRequire(import.meta.url)('uWebSockets.js') as typeof UWS & { H3App?: unknown };
  if (typeof uws.H3App !== 'function') throw new NativeUwsMissingError();
  return uws;
}
