/**
 * Every WebSocket close code Warden sends, with the reason for each, lives in the protocol module
 * the server and the client package share (client/src/protocol.ts), so both read the same numbers.
 */
export { CloseCodes, isTerminalCloseCode, type CloseCode } from '../client/src/protocol.ts';
