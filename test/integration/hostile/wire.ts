import WebSocket from 'ws';

/**
 * SocketCluster's wire protocol spoken by hand over `ws`, for tests that send what no
 * socketcluster-client would: JSON packets `{event, data, cid}` (an RPC when `cid` is a number),
 * answers `{rid, data}` or `{rid, error}`, batch frames (a JSON array of packets), and the ping,
 * an empty string (protocol v2; socketcluster-server/serversocket.js 99-114), answered in kind.
 */
export interface Answer {
  readonly rid: number;
  readonly data?: unknown;
  readonly error?: { readonly name: string; readonly message: string; readonly [key: string]: unknown };
}

export interface Closed {
  readonly code: number;
  readonly reason: string;
}

export class RawSocket {
  /** Resolves with the close code once the connection has closed (either side). */
  readonly closed: Promise<Closed>;
  /** Packets that were not answers (server events), in order. */
  readonly events: unknown[] = [];
  /** The socket id the server gave in its handshake answer (after `connect`). */
  id: string | null = null;
  private readonly waiting = new Map<
    number,
    { resolve: (answer: Answer) => void; reject: (error: Error) => void }
  >();
  private nextCid = 1;

  readonly ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => {
        const closed = { code, reason: reason.toString() };
        for (const { reject } of this.waiting.values()) {
          reject(Object.assign(new Error(`closed (${code}) before the answer`), closed));
        }
        this.waiting.clear();
        resolve(closed);
      }),
    );
    ws.on('message', (message, isBinary) => {
      const text = isBinary ? Buffer.from(message as Buffer).toString('utf8') : message.toString();
      if (text === '') {
        if (ws.readyState === WebSocket.OPEN) ws.send('');
        return;
      }
      const packets: unknown[] = [];
      try {
        const parsed: unknown = JSON.parse(text);
        packets.push(...(Array.isArray(parsed) ? parsed : [parsed]));
      } catch {
        packets.push(text);
      }
      for (const packet of packets) {
        const rid = (packet as { rid?: unknown } | null)?.rid;
        const waiter = typeof rid === 'number' ? this.waiting.get(rid) : undefined;
        if (waiter === undefined) {
          this.events.push(packet);
          continue;
        }
        this.waiting.delete(rid as number);
        waiter.resolve(packet as Answer);
      }
    });
    // A refused upgrade or a reset is a close too; the test asserts on the code.
    ws.on('error', () => {});
  }

  /** Opens the WebSocket (no SocketCluster handshake yet). */
  static async open(
    port: number,
    options: { headers?: Record<string, string>; path?: string; maxPayload?: number } = {},
  ): Promise<RawSocket> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${options.path ?? '/socketcluster/'}`, {
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      maxPayload: options.maxPayload ?? 100 * 2 ** 20,
    });
    const socket = new RawSocket(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      void socket.closed.then((closed) => reject(Object.assign(new Error(`closed: ${closed.code}`), closed)));
    });
    return socket;
  }

  /** Opens and completes the handshake (with `authToken` when given). */
  static async connect(port: number, authToken: string | null = null): Promise<RawSocket> {
    const socket = await RawSocket.open(port);
    const answer = await socket.call('#handshake', { authToken });
    if (answer.error !== undefined) throw new Error(`handshake refused: ${answer.error.name}`);
    socket.id = (answer.data as { id: string }).id;
    return socket;
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends one frame as is. */
  send(frame: string | Buffer, options: { binary?: boolean } = {}): void {
    this.ws.send(frame, { binary: options.binary ?? Buffer.isBuffer(frame) });
  }

  /** A new call id, for packets built by hand; `answer(cid)` waits for its answer. */
  cid(): number {
    return this.nextCid++;
  }

  answer(cid: number, timeoutMs = 10_000): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(cid);
        reject(new Error(`no answer to cid ${cid} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(cid, {
        resolve: (answer) => {
          clearTimeout(timer);
          resolve(answer);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }

  /** Sends an RPC packet and resolves with its answer. */
  call(event: string, data?: unknown): Promise<Answer> {
    const cid = this.cid();
    const answer = this.answer(cid);
    this.send(JSON.stringify({ event, data, cid }));
    return answer;
  }

  close(): void {
    this.ws.terminate();
  }
}

/** The answers' error names, counted: `{ InvokeError: 400, RateLimitError: 200 }`. */
export function countErrors(answers: readonly Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of answers) {
    const name = answer.error?.name ?? 'ok';
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}
