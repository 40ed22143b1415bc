import type { Logger } from '../log/logger.ts';

export type RoleName = 'state' | 'broker' | 'worker';

/** Messages a role process sends to the supervisor over IPC. */
export type RoleMessage =
  | { type: 'ready'; role: RoleName; url?: string }
  /** The role cannot start for a reason a restart will not fix; `message` is one line for the operator. */
  | { type: 'fatal'; role: RoleName; message: string };

/**
 * Exit code of a role that cannot start for a reason a restart will not fix (a port in use, a bad
 * value): sysexits' EX_CONFIG. The supervisor stops instead of restarting it.
 */
export const EXIT_CANNOT_START = 78;

/**
 * Set by the supervisor in the environment of the roles it starts. A supervised role reports its
 * start failure to the supervisor, which prints it once (two workers failing on one PORT would
 * otherwise print the same line twice).
 */
export const SUPERVISED_ENV = 'WARDEN_SUPERVISED';

function supervised(): boolean {
  return process.env[SUPERVISED_ENV] === '1' && process.send !== undefined && process.connected;
}

/** Tells the supervisor (if any) about this process; a no-op when run alone. */
export function notifyParent(message: RoleMessage): void {
  if (process.connected) process.send?.(message);
}

/**
 * Reports a role's start failure: to the supervisor (delivered before this resolves) when
 * supervised, else on stderr. Returns the exit code to use.
 */
export async function reportCannotStart(role: RoleName, message: string): Promise<number> {
  if (!supervised()) {
    process.stderr.write(`warden: ${message}\n`);
    return 1;
  }
  const sent: RoleMessage = { type: 'fatal', role, message };
  await new Promise<void>((resolve) => process.send?.(sent, undefined, {}, () => resolve()));
  return EXIT_CANNOT_START;
}

let onParentGone: () => void = () => process.exit(0);

/**
 * Ends this process when its parent's IPC channel closes: the supervisor died, even by SIGKILL.
 * An orphaned role would keep its port and make the next `warden start` fail. Called first thing
 * in every role; until the role has installed its shutdown (onShutdown) it exits at once. A role
 * started without IPC (a Kubernetes pod, a shell) is not affected.
 */
export function endWithParent(): void {
  if (process.send === undefined) return;
  process.once('disconnect', () => onParentGone());
}

/**
 * Runs `stop` once on SIGTERM or SIGINT, or when the parent is gone (see endWithParent), then
 * exits; exits non-zero if stopping fails.
 */
export function onShutdown(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handle = (reason: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal: reason });
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
  onParentGone = () => handle('parent gone');
}
