/**
 * The schema, as ordered migrations with one statement list per dialect. Every statement is
 * idempotent (IF NOT EXISTS), so two processes migrating at once both succeed.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly mysql: readonly string[];
  readonly sqlite: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'users and cluster events',
    mysql: [
      `CREATE TABLE IF NOT EXISTS users (
        id VARCHAR(36) NOT NULL PRIMARY KEY,
        username VARCHAR(64) NOT NULL,
        password_hash TEXT NOT NULL,
        tenant VARCHAR(64) NULL,
        roles TEXT NOT NULL,
        publish TEXT NOT NULL,
        subscribe TEXT NOT NULL,
        \`invoke\` TEXT NOT NULL,
        disabled TINYINT NOT NULL DEFAULT 0,
        tokens_valid_from BIGINT NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        UNIQUE KEY users_username (username)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
      `CREATE TABLE IF NOT EXISTS cluster_events (
        id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        kind VARCHAR(16) NOT NULL,
        subject VARCHAR(128) NOT NULL,
        value BIGINT NOT NULL DEFAULT 0,
        expires_at BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        KEY cluster_events_expires_at (expires_at)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
      `CREATE TABLE IF NOT EXISTS cluster_meta (
        name VARCHAR(64) NOT NULL PRIMARY KEY,
        value TEXT NOT NULL
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
    ],
    sqlite: [
      `CREATE TABLE IF NOT EXISTS users (
        id TEXT NOT NULL PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        tenant TEXT NULL,
        roles TEXT NOT NULL,
        publish TEXT NOT NULL,
        subscribe TEXT NOT NULL,
        "invoke" TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        tokens_valid_from INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      )`,
      `CREATE TABLE IF NOT EXISTS cluster_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        value INTEGER NOT NULL DEFAULT 0,
        expires_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      )`,
      `CREATE INDEX IF NOT EXISTS cluster_events_expires_at ON cluster_events (expires_at)`,
      `CREATE TABLE IF NOT EXISTS cluster_meta (
        name TEXT NOT NULL PRIMARY KEY,
        value TEXT NOT NULL
      )`,
    ],
  },
  {
    // Version 3: version 2 is reserved for the cluster-event changes made alongside.
    version: 3,
    name: 'login attempt counters (rate-limiter-flexible layout)',
    mysql: [
      `CREATE TABLE IF NOT EXISTS login_attempts (
        \`key\` VARCHAR(255) NOT NULL PRIMARY KEY,
        points INT NOT NULL DEFAULT 0,
        expire BIGINT UNSIGNED NULL,
        KEY login_attempts_expire (expire)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
    ],
    sqlite: [
      `CREATE TABLE IF NOT EXISTS login_attempts (
        key TEXT PRIMARY KEY,
        points INTEGER NOT NULL DEFAULT 0,
        expire INTEGER
      )`,
    ],
  },
  {
    version: 4,
    name: 'roles with permissions',
    mysql: [
      `CREATE TABLE IF NOT EXISTS roles (
        name VARCHAR(64) NOT NULL PRIMARY KEY,
        publish TEXT NOT NULL,
        subscribe TEXT NOT NULL,
        \`invoke\` TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
    ],
    sqlite: [
      `CREATE TABLE IF NOT EXISTS roles (
        name TEXT NOT NULL PRIMARY KEY,
        publish TEXT NOT NULL,
        subscribe TEXT NOT NULL,
        "invoke" TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      )`,
    ],
  },
  {
    version: 5,
    name: 'one-time secrets (tickets, auth codes, invites)',
    mysql: [
      `CREATE TABLE IF NOT EXISTS one_time_secrets (
        secret_hash CHAR(64) NOT NULL PRIMARY KEY,
        purpose VARCHAR(16) NOT NULL,
        payload TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        used_at BIGINT NULL,
        created_at BIGINT NOT NULL,
        KEY one_time_secrets_expires_at (expires_at)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
    ],
    sqlite: [
      `CREATE TABLE IF NOT EXISTS one_time_secrets (
        secret_hash TEXT NOT NULL PRIMARY KEY,
        purpose TEXT NOT NULL,
        payload TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER NULL,
        created_at INTEGER NOT NULL
      )`,
      `CREATE INDEX IF NOT EXISTS one_time_secrets_expires_at ON one_time_secrets (expires_at)`,
    ],
  },
];

export const MIGRATIONS_TABLE = {
  mysql:
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INT NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL) ENGINE=InnoDB',
  sqlite:
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL)',
} as const;
