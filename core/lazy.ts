/**
 * A value built on first use, for parts of the service whose modules take long to load (the MCP
 * SDK, the dashboard) and that a given instance may never need: a scale-to-zero deployment pays
 * the start-up of everything loaded before the first answer.
 */
export interface Lazy<T> {
  /** The value, loading it the first time; concurrent first callers share one load. */
  get(): Promise<T>;
  /** The value if it has been loaded, without loading it. */
  loaded(): T | undefined;
}

export function lazy<T>(load: () => Promise<T>): Lazy<T> {
  let pending: Promise<T> | undefined;
  let value: T | undefined;
  return {
    get() {
      pending ??= load().then(
        (loadedValue) => (value = loadedValue),
        (error) => {
          // A failed load (a module that could not be read) is tried again on the next use.
          pending = undefined;
          throw error;
        },
      );
      return pending;
    },
    loaded: () => value,
  };
}
