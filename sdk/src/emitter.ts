/** A minimal typed event emitter: `on` returns the function that removes the listener. */
export type Listener<T> = (event: T) => void;

export class Emitter<Events> {
  private readonly listeners: { [K in keyof Events]?: Listener<Events[K]>[] } = {};

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    (this.listeners[event] ??= []).push(listener);
    return () => this.off(event, listener);
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    const list = this.listeners[event];
    const at = list?.indexOf(listener) ?? -1;
    if (at >= 0) list!.splice(at, 1);
  }

  /** A listener that throws must not break the client's state machine: its error is rethrown outside it. */
  protected emit<K extends keyof Events>(event: K, value: Events[K]): void {
    for (const listener of this.listeners[event]?.slice() ?? []) {
      try {
        listener(value);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
