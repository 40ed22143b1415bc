import type { Logger } from '../log/logger.ts';

/** Messages a role process sends to the supervisor over IPC. */
export type RoleMessage = { type: 'ready'; role: 'state' | 'broker' | 'worker'; url?: string };

/** Tells the supervisor (if any) about this process; a no-op when run alone. */
export function notifyParent(message: RoleMessage): void {
  process.send?.(message);
}

/** Runs `stop` once on SIGTERM or SIGINT, then exits; exits non-zero if stopping fails. */
export function onShutdown(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handle = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error('stop failed', { error });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => handle('SIGTERM'));
  process.once('SIGINT', () => handle('SIGINT'));
}
