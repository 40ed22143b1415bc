/**
 * The flooding side of the socket-flood bench, in its own process: K raw WebSockets speaking
 * SocketCluster's protocol, each publishing (with a cid, so every refusal is answered) as fast
 * as the worker answers, with at most `window` publishes unanswered per socket.
 * Driven over IPC by ./flood.ts (messages in ./protocol.ts).
 */
import WebSocket from 'ws';
import { wallMs } from '../lib/timing.ts';
import type { FloodCounts, FromFlood, ToFlood } from './protocol.ts';

interface Flooder {
  readonly ws: WebSocket;
  readonly index: number;
  nextCid: number;
  inFlight: number;
  closedCode: number | null;
}

const flooders: Flooder[] = [];
let window = 1000;
const counts = { sent: 0, accepted: 0, rateLimited: 0, otherErrors: 0 };
const closedAfterMs: number[] = [];
let floodStart = 0;
let floodEnd = 0;
let answered: (() => void) | null = null;

function send(message: FromFlood): void {
  process.send?.(message);
}

function onAnswer(flooder: Flooder, packet: { rid?: unknown; error?: { name?: string } }): void {
  if (typeof packet.rid !== 'number' || packet.rid === 1) return;
  flooder.inFlight--;
  if (packet.error === undefined) counts.accepted++;
  else if (packet.error.name === 'RateLimitError') counts.rateLimited++;
  else counts.otherErrors++;
  pump(flooder);
  answered?.();
}

function pump(flooder: Flooder): void {
  if (floodEnd === 0 || flooder.closedCode !== null || flooder.ws.readyState !== WebSocket.OPEN) return;
  while (flooder.inFlight < window && wallMs() < floodEnd) {
    const cid = flooder.nextCid++;
    flooder.ws.send(
      `{"event":"#publish","data":{"channel":"flood.${flooder.index}","data":${cid}},"cid":${cid}}`,
    );
    flooder.inFlight++;
    counts.sent++;
  }
}

async function open(port: number, token: string, index: number): Promise<Flooder> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socketcluster/`);
  const flooder: Flooder = { ws, index, nextCid: 2, inFlight: 0, closedCode: null };
  const handshake = new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', (data) => {
      const text = data.toString();
      if (text === '') {
        if (ws.readyState === WebSocket.OPEN) ws.send('');
        return;
      }
      const parsed = JSON.parse(text) as unknown;
      for (const packet of Array.isArray(parsed) ? parsed : [parsed]) {
        if ((packet as { rid?: unknown }).rid === 1) resolve();
        else onAnswer(flooder, packet as { rid?: unknown });
      }
    });
  });
  ws.once('open', () => ws.send(JSON.stringify({ event: '#handshake', data: { authToken: token }, cid: 1 })));
  ws.once('close', (code) => {
    flooder.closedCode = code;
    if (floodStart > 0 && code === 4129) closedAfterMs.push(Math.round(wallMs() - floodStart));
    answered?.();
  });
  await handshake;
  return flooder;
}

async function flood(durationMs: number): Promise<void> {
  floodStart = wallMs();
  floodEnd = floodStart + durationMs;
  for (const flooder of flooders) pump(flooder);
  // Run until the time is up (pump stops sending), then give the answers a second to arrive.
  const settled = () =>
    flooders.every((f) => f.closedCode !== null || (wallMs() >= floodEnd && f.inFlight === 0));
  const deadline = floodEnd + 1000;
  while (!settled() && wallMs() < deadline) {
    await new Promise<void>((resolve) => {
      answered = resolve;
      setTimeout(resolve, 50);
    });
    answered = null;
  }
  const closes: Record<string, number> = {};
  for (const flooder of flooders) {
    const key = flooder.closedCode === null ? 'open' : String(flooder.closedCode);
    closes[key] = (closes[key] ?? 0) + 1;
  }
  const result: FloodCounts = {
    ...counts,
    unanswered: flooders.reduce((sum, f) => sum + f.inFlight, 0),
    closes,
    closedAfterMs,
    durationMs: Math.round(wallMs() - floodStart),
  };
  send({ type: 'flooded', ...result });
}

process.on('message', (message: ToFlood) => {
  const run = async () => {
    switch (message.type) {
      case 'connect':
        window = message.window;
        for (const [i, token] of message.tokens.entries()) flooders.push(await open(message.port, token, i));
        return send({ type: 'connected', sockets: flooders.length });
      case 'flood':
        return flood(message.durationMs);
      case 'close':
        for (const flooder of flooders) flooder.ws.terminate();
        send({ type: 'closed' });
        setTimeout(() => process.exit(0), 100);
        return undefined;
    }
  };
  run().catch((error: unknown) => {
    send({ type: 'fatal', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  });
});

process.on('disconnect', () => process.exit(0));
