import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';

const SERVER_URL = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';

/**
 * A fresh MariaDB database for one test file: `warden_test_<hex>` on the server at
 * TEST_MYSQL_URL (default root@127.0.0.1:3306), dropped by `drop()`.
 */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `warden_test_${randomBytes(6).toString('hex')}`;
  const server = new URL(SERVER_URL);
  const connection = await mysql.createConnection({
    host: server.hostname,
    port: server.port === '' ? 3306 : Number(server.port),
    user: decodeURIComponent(server.username) || 'root',
    password: decodeURIComponent(server.password),
  });
  // The name is generated hex: safe as an identifier.
  await connection.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
  await connection.end();
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const dropper = await mysql.createConnection({
        host: server.hostname,
        port: server.port === '' ? 3306 : Number(server.port),
        user: decodeURIComponent(server.username) || 'root',
        password: decodeURIComponent(server.password),
      });
      await dropper.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await dropper.end();
    },
  };
}
