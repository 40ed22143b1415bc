import { parseConfig } from '../../config/index.ts';

/** The configuration's defaults (as a deployment without overrides runs), for the figures derived from them. */
export const CONFIG_DEFAULTS = parseConfig({}, { authKey: 'd'.repeat(32), sccAuthKey: 'e'.repeat(32) });
