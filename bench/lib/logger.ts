import type { Logger } from '../../log/logger.ts';

export interface RecordingLogger extends Logger {
  /** Warn and error lines so far: counts per message, and the first few lines verbatim. */
  readonly counts: Map<string, number>;
  readonly first: string[];
}

/**
 * A Logger for the in-process worker that prints nothing during a measurement (printing would
 * be measured) and keeps warn/error lines to report as problems afterwards.
 */
export function recordingLogger(keep = 20): RecordingLogger {
  const counts = new Map<string, number>();
  const first: string[] = [];
  const record = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    const key = `${level} ${message}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    if (first.length < keep) {
      const detail = fields === undefined ? '' : ` ${describe(fields)}`;
      first.push(`${key}${detail}`);
    }
  };
  return { counts, first, debug() {}, info() {}, warn: record('warn'), error: record('error') };
}

function describe(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .map(([key, value]) => {
      if (value instanceof Error) return `${key}=${value.name}: ${value.message}`;
      try {
        return `${key}=${JSON.stringify(value)}`;
      } catch {
        return `${key}=${String(value)}`;
      }
    })
    .join(' ');
}
