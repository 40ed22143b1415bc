/**
 * The control client of the socket-flood bench, in its own process: one authenticated
 * socketcluster-client socket subscribed to its channel, timing publish-to-delivery round trips
 * one after another. Driven over IPC by ./flood.ts (messages in ./protocol.ts).
 */
import type { AGClientSocket } from 'socketcluster-client';
import { connect } from '../lib/clients.ts';
import { sleep, wallMs } from '../lib/timing.ts';
import type { FromControl, ToControl } from './protocol.ts';

let socket: AGClientSocket | null = null;
let channelName = '';
/** Deliveries awaited, by the publish's sequence number. */
const waiting = new Map<number, () => void>();

function send(message: FromControl): void {
  process.send?.(message);
}

async function measure(durationMs: number, gapMs: number, timeoutMs: number): Promise<void> {
  if (socket === null) throw new Error('not connected');
  const samples: Array<[number, number]> = [];
  let timeouts = 0;
  const start = wallMs();
  let seq = 0;
  while (wallMs() - start < durationMs) {
    const id = ++seq;
    const sentAt = wallMs();
    const delivered = new Promise<boolean>((resolve) => waiting.set(id, () => resolve(true)));
    socket.transmitPublish(channelName, id);
    const ok = await Promise.race([delivered, sleep(timeoutMs).then(() => false)]);
    waiting.delete(id);
    if (ok) samples.push([Math.round(sentAt - start), wallMs() - sentAt]);
    else timeouts++;
    await sleep(gapMs);
  }
  send({ type: 'measured', samples, timeouts });
}

process.on('message', (message: ToControl) => {
  const run = async () => {
    switch (message.type) {
      case 'connect': {
        const connected = await connect(message.port, message.token);
        if (!connected.isAuthenticated) throw new Error('the control socket is not authenticated');
        socket = connected.socket;
        channelName = message.channel;
        const channel = socket.subscribe(channelName);
        await channel.listener('subscribe').once();
        void (async () => {
          for await (const data of channel) waiting.get(data as number)?.();
        })();
        return send({ type: 'connected' });
      }
      case 'measure':
        return measure(message.durationMs, message.gapMs, message.timeoutMs);
      case 'close':
        socket?.disconnect();
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
