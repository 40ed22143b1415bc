import type { Store } from '../store/types.ts';
import { metrics } from './metrics.ts';

/**
 * The store, timed: every operation that returns a promise is observed in
 * `warden_store_duration_seconds{operation, result}` (`result` is `ok` or `error`). The operation
 * label is the method's name, a fixed set.
 *
 * @example
 *   const store = instrumentStore(openStore(config.databaseUrl));
 */
export function instrumentStore(store: Store): Store {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      let wrapper = wrapped.get(property);
      if (wrapper === undefined) {
        const method = value as (...args: unknown[]) => unknown;
        wrapper = (...args: unknown[]) => {
          const started = process.hrtime.bigint();
          const result = method.apply(target, args);
          if (!(result instanceof Promise)) return result;
          const observe = (outcome: 'ok' | 'error') =>
            metrics.storeDuration.observe(
              { operation: property, result: outcome },
              Number(process.hrtime.bigint() - started) / 1e9,
            );
          return result.then(
            (resolved: unknown) => {
              observe('ok');
              return resolved;
            },
            (error: unknown) => {
              observe('error');
              throw error;
            },
          );
        };
        wrapped.set(property, wrapper);
      }
      return wrapper;
    },
  });
}
