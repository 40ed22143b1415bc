/** Node-only helpers of warden-client (`import { fileTokenStorage } from 'warden-client/node'`). */
export { fileTokenStorage } from './file-storage.ts';
