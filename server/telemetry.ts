import cluster from 'node:cluster';
import type { Config } from '../config/index.ts';
import { setAuditLogger } from '../log/audit.ts';
import { childLogger, createLogger, type Logger } from '../log/logger.ts';
import { startRuntimeMetrics } from '../metrics/metrics.ts';
import {
  answerClusterScrapes,
  clusterMetrics,
  processMetrics,
  startMetricsServer,
  type MetricsServer,
} from '../metrics/server.ts';
import { SUPERVISED_ENV, type RoleName } from './process.ts';

export interface RoleTelemetry {
  /** The role's root logger (JSON or pretty, at LOG_LEVEL). */
  readonly log: Logger;
  /** Stops serving metrics (part of the role's shutdown). */
  close(): Promise<void>;
}

/**
 * A role's logs, audit trail and metrics, set up first thing in its entry point:
 * - the root logger (LOG_LEVEL), and the audit trail (always, at info, `module: "audit"`);
 * - metrics: the supervisor of `warden start` serves the sum of its workers on METRICS_PORT, and
 *   each of its workers answers it over IPC; a role run alone (a Kubernetes pod) serves its own.
 *   The state server and brokers under `warden start` serve none (the port is the supervisor's).
 *
 * @example
 *   const { log, close } = await startTelemetry('worker', config);
 */
export async function startTelemetry(role: RoleName | 'supervisor', config: Config): Promise<RoleTelemetry> {
  const log = createLogger({ role, level: config.logLevel, format: config.logFormat });
  // The audit trail does not depend on LOG_LEVEL: an operator quietening the logs keeps it.
  const auditLog = createLogger({ role, level: 'info', format: config.logFormat });
  setAuditLogger(childLogger(auditLog, { module: 'audit' }));
  let server: MetricsServer | null = null;
  if (role === 'supervisor') {
    if (config.metricsPort !== null)
      server = await startMetricsServer({
        host: config.host,
        port: config.metricsPort,
        source: clusterMetrics(),
        log: childLogger(log, { module: 'metrics' }),
      });
  } else {
    startRuntimeMetrics();
    if (role === 'worker' && cluster.isWorker) answerClusterScrapes();
    else if (config.metricsPort !== null && process.env[SUPERVISED_ENV] !== '1')
      server = await startMetricsServer({
        host: config.host,
        port: config.metricsPort,
        source: processMetrics(),
        log: childLogger(log, { module: 'metrics' }),
      });
  }
  return { log, close: async () => server?.close() };
}
