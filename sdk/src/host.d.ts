// The only host functions the client uses. Declared here so that the package compiles, and its
// declarations stay usable, without DOM or Node types: browsers, Node and React Native all have them.
declare function setTimeout(callback: () => void, ms?: number): unknown;
declare function clearTimeout(handle: unknown): void;
declare function queueMicrotask(callback: () => void): void;
