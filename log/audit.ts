import { silentLogger, type Logger } from './logger.ts';

/**
 * The audit trail: one log line per security-relevant event, with `"audit": true` and `event`,
 * at info level, through the process's logger (so redact.ts applies: no secret is ever logged).
 *
 * The trail is process-wide, like stdout: each role's entry point sends it to its logger once
 * (`setAuditLogger`), and the places where events happen call `audit(...)` without a logger
 * being threaded through every constructor. Until then (an in-process test worker) it is silent.
 *
 * Events that a client can cause at will (denials, rate limits, failed logins, refused origins)
 * are limited per event to AUDIT_LINES_PER_SECOND lines; the rest are counted, and a line
 * `{event, suppressed: N}` says how many were dropped once their second is over. Logins that
 * succeed, logouts, revocations and permission changes are never dropped.
 *
 * @example
 *   audit('login_failed', { reason: 'wrong-password', username, address, kind: 'password' });
 */
export type AuditEvent =
  | 'login'
  | 'login_failed'
  | 'logout'
  | 'renewal_failed'
  | 'token_reuse'
  | 'revocation'
  | 'permissions_changed'
  | 'denied'
  | 'rate_limited'
  | 'origin_refused';

/** Who asked for a revocation. */
export type RevokedBy = 'cli' | 'http' | 'backchannel' | 'socket' | 'reuse';

export type AuditFields = Record<string, string | number | boolean | null | undefined | readonly string[]>;

/** Lines per event per second for the events a client can repeat at will. */
export const AUDIT_LINES_PER_SECOND = 20;

const LIMITED: ReadonlySet<AuditEvent> = new Set([
  'login_failed',
  'renewal_failed',
  'token_reuse',
  'denied',
  'rate_limited',
  'origin_refused',
]);

interface Window {
  start: number;
  lines: number;
  suppressed: number;
  timer: NodeJS.Timeout | null;
}

/** The per-event line budget (exported for its unit test, with an injected clock). */
export class AuditTrail {
  private readonly windows = new Map<AuditEvent, Window>();
  private readonly log: Logger;
  private readonly options: { linesPerSecond?: number; now?: () => number };

  constructor(log: Logger, options: { linesPerSecond?: number; now?: () => number } = {}) {
    this.log = log;
    this.options = options;
  }

  record(event: AuditEvent, fields: AuditFields = {}): void {
    if (!LIMITED.has(event)) return this.write(event, fields);
    const now = (this.options.now ?? Date.now)();
    let window = this.windows.get(event);
    if (window === undefined || now - window.start >= 1000) {
      if (window !== undefined) this.flush(event, window);
      window = { start: now, lines: 0, suppressed: 0, timer: null };
      this.windows.set(event, window);
    }
    if (window.lines < (this.options.linesPerSecond ?? AUDIT_LINES_PER_SECOND)) {
      window.lines++;
      return this.write(event, fields);
    }
    window.suppressed++;
    // Said once the second is over, even if no later event comes to trigger it.
    const current = window;
    current.timer ??= setTimeout(() => this.flush(event, current), 1000 - (now - current.start)).unref();
  }

  /** Writes the count of `window`'s dropped lines, once. */
  private flush(event: AuditEvent, window: Window): void {
    if (window.timer !== null) clearTimeout(window.timer);
    window.timer = null;
    if (window.suppressed === 0) return;
    const suppressed = window.suppressed;
    window.suppressed = 0;
    this.log.info(`audit ${event} lines suppressed`, { audit: true, event, suppressed });
  }

  private write(event: AuditEvent, fields: AuditFields): void {
    this.log.info(`audit ${event}`, { audit: true, event, ...fields });
  }
}

let trail = new AuditTrail(silentLogger);

/** Sends the process's audit trail to `log`; returns a function that restores the previous one. */
export function setAuditLogger(
  log: Logger,
  options?: { linesPerSecond?: number; now?: () => number },
): () => void {
  const previous = trail;
  trail = new AuditTrail(log, options);
  return () => {
    trail = previous;
  };
}

/** Records one audit event (see the module comment). */
export function audit(event: AuditEvent, fields?: AuditFields): void {
  trail.record(event, fields);
}
