import type { FromServer, ToServer } from '../protocol.ts';

/** heapUsed after a full collection (the process runs with --expose-gc), bytes. */
export function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

export function send(message: FromServer): void {
  process.send?.(message);
}

/**
 * The server side of the bench's IPC for a forked stack process: answers 'heap' with `heap()`
 * (this process's by default), runs `close` on 'close' and exits; a start failure or an uncaught
 * error is reported as 'fatal' so that the bench fails at once rather than on a time-out.
 *
 * @example
 *   serveBench(async () => ({ port: await listen(), token: null, others: [] }), async () => server.close());
 */
export function serveBench(
  start: () => Promise<Omit<Extract<FromServer, { type: 'ready' }>, 'type'>>,
  close: () => Promise<void>,
  heap: () => Promise<number> = async () => heapAfterGc(),
): void {
  const fatal = (error: unknown) => {
    send({ type: 'fatal', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    setTimeout(() => process.exit(1), 100);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  // The bench going away (its IPC channel closing) ends this process too.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: ToServer) => {
    if (message.type === 'heap') {
      heap().then((bytes) => send({ type: 'heap', bytes }), fatal);
    } else if (message.type === 'close') {
      const timer = setTimeout(() => process.exit(0), 5_000);
      timer.unref();
      close().then(
        () => process.exit(0),
        () => process.exit(0),
      );
    }
  });
  start().then((ready) => send({ type: 'ready', ...ready }), fatal);
}
