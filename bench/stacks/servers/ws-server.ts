/**
 * The floor: a raw `ws` server with the smallest pub/sub protocol that does the same work
 * (JSON frames; see WsFrame). No authentication, no middleware. Run forked by ../stacks.ts.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { WsFrame } from '../protocol.ts';
import { serveBench } from './ipc.ts';

const http = createServer();
const wss = new WebSocketServer({ server: http });
const channels = new Map<string, Set<WebSocket>>();

wss.on('connection', (socket) => {
  const mine = new Set<string>();
  socket.on('message', (raw) => {
    let frame: WsFrame;
    try {
      frame = JSON.parse(String(raw)) as WsFrame;
    } catch {
      socket.close(1003, 'not JSON');
      return;
    }
    if (frame.t === 's') {
      let members = channels.get(frame.c);
      if (members === undefined) channels.set(frame.c, (members = new Set()));
      members.add(socket);
      mine.add(frame.c);
      socket.send(JSON.stringify({ t: 'ok', c: frame.c }));
    } else if (frame.t === 'p') {
      const members = channels.get(frame.c);
      if (members === undefined) return;
      // Serialised once per publish, as SocketCluster does.
      const out = JSON.stringify({ t: 'm', c: frame.c, d: frame.d });
      for (const member of members) member.send(out);
    }
  });
  socket.on('close', () => {
    for (const channel of mine) {
      const members = channels.get(channel);
      members?.delete(socket);
      if (members?.size === 0) channels.delete(channel);
    }
  });
});

serveBench(
  () =>
    new Promise((resolve) => {
      http.listen(0, '127.0.0.1', () =>
        resolve({ port: (http.address() as AddressInfo).port, token: null, others: [] }),
      );
    }),
  async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  },
);
