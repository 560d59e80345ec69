/**
 * Messages a client reads (error bodies, the public /readyz report) never name an internal
 * address: not the Temporal frontend, not the database URL, not a worker's host:port. They are
 * reconnaissance for anyone probing the edge, and errors from libraries (gRPC, pg, fetch) put
 * them in their messages. Our own messages do not; this is the defence in depth for the ones
 * that pass a library's message on. The full message stays in the server's log.
 */
const URL_LIKE = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi;
const IPV6_WITH_PORT = /\[[0-9a-f:.]+\](?::\d+)?/gi;
const IPV4 = /\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b/g;
// host:port where the host has a letter (service names such as `temporal:7233`, `db.internal:5432`,
// a worker's `hostname:pid`); times (12:30) and ratios have no letter and are left alone.
const HOST_PORT = /\b(?=[\w.-]*[a-z])[a-z0-9][\w.-]*:\d{2,7}\b/gi;

export const INTERNAL_ADDRESS = '[internal address]';

export function withoutInternalAddresses(text: string): string {
  return text.replace(URL_LIKE, INTERNAL_ADDRESS).replace(IPV6_WITH_PORT, INTERNAL_ADDRESS).replace(IPV4, INTERNAL_ADDRESS).replace(HOST_PORT, INTERNAL_ADDRESS);
}
