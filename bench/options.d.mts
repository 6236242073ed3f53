/** Types of options.mjs for TypeScript callers. */
export interface Options {
  scale: number;
  only: string[];
  peers: string[];
  brokers: string[];
  targets: string[] | undefined;
  workers: number;
  stepSeconds: number;
  bursts: number;
  churnCycles: number;
  idleSeconds: number;
  payloadBytes: number;
  latencyLimitMs: number;
  sourceAddresses: string[] | undefined;
  profile: boolean;
  profileDir: string;
  installPeers: boolean;
  resultsDir: string;
  doc: string;
  chartsDir: string;
  report: string | undefined;
  maxMinutes: number;
  help?: boolean;
}

export declare const SCENARIOS: string[];
export declare function defaults(): Options;
export declare function parseArgs(argv: string[]): Options;
export declare function scaled(options: Options, n: number, min?: number): number;
