/**
 * Where the instances of a service are. Static from configuration today; a registry with health-checked
 * instances can implement the same interface later without touching callers.
 */
export interface InstanceSource {
  /** Base URLs such as `http://127.0.0.1:8102`, in a stable order. */
  list(): readonly string[];
}

export function staticInstances(urls: readonly string[]): InstanceSource {
  const frozen = Object.freeze([...urls]);
  if (frozen.length === 0) throw new Error('A service needs at least one instance URL');
  return { list: () => frozen };
}
