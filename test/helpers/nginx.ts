import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './processes.ts';

export const NGINX_BIN = process.env.NGINX_BIN ?? '/usr/sbin/nginx';

export interface RunningNginx {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * The proxy part of an ingress-nginx configuration, as its controller renders it for a
 * WebSocket backend: HTTP/1.1 upstream, the Upgrade/Connection pair, and X-Forwarded-For with
 * the peer appended (compute-full-forwarded-for), plus X-Real-IP and X-Forwarded-Proto.
 */
function config(
  prefix: string,
  port: number,
  upstreamPort: number,
  headers: Readonly<Record<string, string>>,
): string {
  const extra = Object.entries(headers)
    .map(([name, value]) => `      proxy_set_header ${name} "${value}";\n`)
    .join('');
  return `
daemon off;
master_process off;
worker_processes 1;
error_log ${prefix}/error.log warn;
pid ${prefix}/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://127.0.0.1:${upstreamPort};
      proxy_bind 127.0.0.1;
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_read_timeout 3600s;
${extra}    }
  }
}
`;
}

function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts Debian's nginx on loopback in front of `upstreamPort`, in a temporary prefix of its own
 * (no root-owned paths, no daemon), and resolves once it accepts connections.
 *
 * @example
 *   const proxy = await startNginx(warden.port);
 *   await fetch(`${proxy.url}/auth/login`, ...);
 */
export async function startNginx(
  upstreamPort: number,
  options: {
    /**
     * Headers nginx sets on every proxied request, the upgrade included (`proxy_set_header`): it
     * replaces a client's header of the same name, as a gateway adding an identity must.
     */
    readonly headers?: Readonly<Record<string, string>>;
  } = {},
): Promise<RunningNginx> {
  const headers = options.headers ?? {};
  for (const [name, value] of Object.entries(headers)) {
    // Written into nginx.conf verbatim: no quoting, variables or directives can slip in.
    if (!/^[A-Za-z0-9-]+$/.test(name) || !/^[\x20-\x7e]*$/.test(value) || /["\\$;]/.test(value))
      throw new TypeError(`startNginx: header ${name} cannot be written into nginx.conf`);
  }
  const prefix = mkdtempSync(join(tmpdir(), 'warden-nginx-'));
  const port = await freePort();
  writeFileSync(join(prefix, 'nginx.conf'), config(prefix, port, upstreamPort, headers));
  const child: ChildProcess = spawn(NGINX_BIN, ['-p', prefix, '-c', join(prefix, 'nginx.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // nginx says nothing when it is ready: wait until its port accepts, or it exits.
  for (let attempt = 0; ; attempt++) {
    const result = await Promise.race([accepting(port), exited.then(() => 'exited' as const)]);
    if (result === true) break;
    if (result === 'exited' || attempt > 200) {
      child.kill('SIGKILL');
      rmSync(prefix, { recursive: true, force: true });
      throw new Error(`nginx did not start: ${stderr.trim() || 'no output'}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGQUIT');
        await exited;
      }
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}
