import { parseConfig, type Config } from './config.ts';
import { resolveSecrets } from './secrets.ts';

export { ConfigError, parseConfig, type Config } from './config.ts';

/** Loads this process's configuration from its environment. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseConfig(env, resolveSecrets(env));
}
