/**
 * LOG_FORMAT=pretty: pino's JSON lines rendered for a terminal. A few lines of code rather than
 * pino-pretty and its dependencies: the lines are Warden's own, with a known shape.
 *
 *   12:00:01.234 WARN  [worker 4242 store] the user store is unavailable error=StoreUnavailableError: ...
 *       caused by: Error: connect ECONNREFUSED 127.0.0.1:3306
 */

const BASE_KEYS = new Set(['level', 'time', 'role', 'pid', 'hostname', 'module', 'msg']);

interface LineObject {
  level?: unknown;
  time?: unknown;
  role?: unknown;
  pid?: unknown;
  module?: unknown;
  msg?: unknown;
  [key: string]: unknown;
}

function parse(json: string): LineObject | null {
  if (!json.startsWith('{')) return null;
  try {
    const value = JSON.parse(json) as unknown;
    if (typeof value !== 'object' || value === null || !('msg' in value) || !('level' in value)) return null;
    return value as LineObject;
  } catch {
    return null;
  }
}

interface ErrorShape {
  type: string;
  message: string;
  stack?: string;
  cause?: unknown;
}

function isErrorShape(value: unknown): value is ErrorShape {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ErrorShape).type === 'string' &&
    typeof (value as ErrorShape).message === 'string'
  );
}

/** Control characters (a newline in a username) are shown escaped: one event stays one line. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

function text(value: unknown): string {
  if (typeof value === 'string') return CONTROL.test(value) ? JSON.stringify(value) : value;
  if (isErrorShape(value)) return `${value.type}: ${value.message}`;
  return JSON.stringify(value);
}

/** `msg key=value ...`: the message and the line's own fields, as Warden printed them before JSON. */
export function renderMessage(line: LineObject): string {
  const parts = [text(String(line.msg))];
  for (const [key, value] of Object.entries(line)) {
    if (!BASE_KEYS.has(key)) parts.push(`${key}=${text(value)}`);
  }
  return parts.join(' ');
}

/** The causes of every error field, one line each, indented. */
function causes(line: LineObject): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(line)) {
    if (BASE_KEYS.has(key) || !isErrorShape(value)) continue;
    let cause: unknown = value.cause;
    for (let depth = 0; cause !== undefined && depth < 5; depth++) {
      out.push(`    caused by: ${text(cause)}`);
      cause = isErrorShape(cause) ? cause.cause : undefined;
    }
  }
  return out;
}

/** One pretty line (more for causes) for a JSON log line; null for anything else. */
export function renderLine(json: string): string | null {
  const line = parse(json);
  if (line === null) return null;
  const time = typeof line.time === 'string' ? line.time.slice(11, 23) : '';
  const level = String(line.level).toUpperCase().padEnd(5);
  const who = [line.role, line.pid, line.module].filter((part) => part !== undefined).join(' ');
  return [`${time} ${level} [${who}] ${renderMessage(line)}`, ...causes(line)].join('\n');
}

/**
 * The `msg key=value` form of a JSON log line, or null for anything else: what tests match
 * their expectations against.
 */
export function messageOf(json: string): string | null {
  const line = parse(json);
  return line === null ? null : renderMessage(line);
}
