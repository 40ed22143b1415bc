import { Router } from 'express';
import type { Store } from '../store/types.ts';

export interface HealthDeps {
  readonly store: Store;
  /** True when the worker can reach the cluster's brokers (always true on a single worker). */
  readonly brokerReady: () => boolean;
  /** False once the worker is draining, so the load balancer stops sending new clients. */
  readonly accepting: () => boolean;
}

/** `GET /healthz` (the process is alive) and `GET /readyz` (store and broker reachable). */
export function createHealthRoutes(deps: HealthDeps): Router {
  const router = Router();
  router.get('/healthz', (_request, response) => {
    response.status(200).json({ status: 'ok' });
  });
  router.get('/readyz', async (_request, response) => {
    const checks = { store: false, broker: deps.brokerReady(), accepting: deps.accepting() };
    try {
      await deps.store.ping();
      checks.store = true;
    } catch {
      // Reported below as store: false.
    }
    const ready = checks.store && checks.broker && checks.accepting;
    response.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', checks });
  });
  return router;
}
