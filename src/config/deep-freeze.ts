/**
 * Freezes a value and everything in it, Maps included, so that no request can change the config
 * it was built from (it is parsed once per cold start and shared by every request).
 */
export function deepFreeze<T>(value: T): T {
  if (value instanceof Map) {
    for (const v of value.values()) deepFreeze(v);
    // Maps are not frozen by Object.freeze; block the mutators so a request cannot change config.
    for (const method of ['set', 'delete', 'clear'] as const) {
      Object.defineProperty(value, method, { value: () => { throw new TypeError('config is read-only'); } });
    }
  } else if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return Object.freeze(value);
}
