/** The fuzz suite's only coupling to src/config.ts. */
import { ConfigError, loadConfig } from '../../../src/config.js';

export type LoadOutcome = { ok: true } | { ok: false; configError: true; problems: readonly string[]; message: string } | { ok: false; configError: false; error: unknown };

export function load(env: Readonly<Record<string, string | undefined>>): LoadOutcome {
  try {
    loadConfig(env, { generateSecret: () => 'generated-secret-for-the-fuzz-suite-0123456789' });
    return { ok: true };
  } catch (error) {
    if (error instanceof ConfigError) return { ok: false, configError: true, problems: error.problems, message: error.message };
    return { ok: false, configError: false, error };
  }
}
