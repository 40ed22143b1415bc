import pino from 'pino';
import { renderLine } from './pretty.ts';
import { sanitizeFields, scrubText } from './redact.ts';

/**
 * Warden's logs: one JSON object per line on stdout (pino), each with `level`, `time`, `role`,
 * `pid`, the logging `module` and `msg`, then the call's fields. Fields pass through redact.ts
 * first (no secret survives, errors become `{type, message, stack, cause}`). `LOG_FORMAT=pretty`
 * (the default on a terminal) renders the same lines for a human (pretty.ts).
 *
 * @example
 *   const log = createLogger({ role: 'worker', level: 'info', format: 'json' });
 *   const storeLog = childLogger(log, { module: 'store' });
 *   storeLog.warn('the user store is unavailable', { error }); // error.cause is logged too
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'pretty';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger whose every line also carries `bindings` (e.g. `{ module: 'store' }`). */
  child?(bindings: LogFields): Logger;
}

/** The keys of every line: a field of the same name is logged as `name_` rather than clash. */
const RESERVED = new Set(['level', 'time', 'role', 'pid', 'hostname', 'module', 'msg']);

class PinoBackedLogger implements Logger {
  private readonly pino: pino.Logger;

  constructor(backend: pino.Logger) {
    this.pino = backend;
  }

  debug(message: string, fields?: LogFields): void {
    if (this.pino.isLevelEnabled('debug')) this.pino.debug(clean(fields), scrubText(message));
  }
  info(message: string, fields?: LogFields): void {
    if (this.pino.isLevelEnabled('info')) this.pino.info(clean(fields), scrubText(message));
  }
  warn(message: string, fields?: LogFields): void {
    if (this.pino.isLevelEnabled('warn')) this.pino.warn(clean(fields), scrubText(message));
  }
  error(message: string, fields?: LogFields): void {
    if (this.pino.isLevelEnabled('error')) this.pino.error(clean(fields), scrubText(message));
  }
  child(bindings: LogFields): Logger {
    const { module, ...rest } = bindings;
    return new PinoBackedLogger(
      this.pino.child({ ...(module === undefined ? {} : { module }), ...sanitizeFields(rest, RESERVED) }),
    );
  }
}

function clean(fields: LogFields | undefined): LogFields {
  return fields === undefined ? {} : sanitizeFields(fields, RESERVED);
}

export interface LoggerOptions {
  /** The process's role: `supervisor`, `state`, `broker`, `worker`, `cli`. */
  role: string;
  level?: LogLevel;
  format?: LogFormat;
  /** Where lines go (tests); default: stdout. Each call gets one line, without its newline. */
  write?: (line: string) => void;
}

/**
 * The root logger of a process (one per role). Writes synchronously: a line logged just before
 * `process.exit` (a failed start) is not lost.
 */
export function createLogger(options: LoggerOptions): Logger {
  const format = options.format ?? 'json';
  const write = options.write;
  const destination: pino.DestinationStream =
    write !== undefined
      ? {
          write: (line: string) => {
            const json = line.endsWith('\n') ? line.slice(0, -1) : line;
            write(format === 'pretty' ? (renderLine(json) ?? json) : json);
          },
        }
      : format === 'pretty'
        ? { write: (line: string) => void process.stdout.write(`${renderLine(line.trimEnd()) ?? line}\n`) }
        : pino.destination({ dest: 1, sync: true });
  const root = pino(
    {
      level: options.level ?? 'info',
      base: { role: options.role, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Fields are made plain by redact.ts already; pino's own serialisers would only redo it.
      serializers: {},
    },
    destination,
  );
  return new PinoBackedLogger(root);
}

/**
 * A logger for one module: `log.child(...)` where the logger has one, else (a test's fake) a
 * wrapper that adds `bindings` to every call's fields.
 */
export function childLogger(log: Logger, bindings: LogFields): Logger {
  if (log.child !== undefined) return log.child(bindings);
  const merge = (fields?: LogFields) => ({ ...bindings, ...fields });
  return {
    debug: (message, fields) => log.debug(message, merge(fields)),
    info: (message, fields) => log.info(message, merge(fields)),
    warn: (message, fields) => log.warn(message, merge(fields)),
    error: (message, fields) => log.error(message, merge(fields)),
  };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
