/**
 * A small leveled logger whose every line starts with the process's role and pid, so the
 * interleaved output of `warden start` (state server, brokers, workers) stays readable.
 *
 * @example
 *   const log = createLogger({ role: 'worker', level: 'info' });
 *   log.info('listening', { port: 8000 });
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function format(fields: Record<string, unknown> | undefined): string {
  if (fields === undefined) return '';
  const parts: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    const text =
      value instanceof Error
        ? `${value.name}: ${value.message}`
        : typeof value === 'string'
          ? value
          : JSON.stringify(value);
    parts.push(`${key}=${text}`);
  }
  return parts.length === 0 ? '' : ' ' + parts.join(' ');
}

export function createLogger(options: {
  role: string;
  level?: LogLevel;
  write?: (line: string) => void;
}): Logger {
  const threshold = ORDER[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const prefix = `[${options.role} ${process.pid}]`;
  const at = (level: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] >= threshold) write(`${prefix} ${level} ${message}${format(fields)}`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
