import fs from 'node:fs';
import net from 'node:net';

/** A port that was free a moment ago: the kernel picks it, we release it for the server to take. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The kernel's ephemeral range (Linux: /proc/sys/net/ipv4/ip_local_port_range, 32768-60999 by
 * default): every outgoing connection and every `listen(0)` of any process takes a port from it.
 */
function ephemeralPortRange(): [number, number] {
  try {
    const [low, high] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return [low!, high!];
  } catch {
    // not Linux: assume its default
  }
  return [32_768, 60_999];
}

/**
 * The first of `count` consecutive ports that were all free a moment ago (for processes given a
 * base port). Chosen below the ephemeral range: a port in it that is free now may be taken by
 * some process's next outgoing connection before ours binds it (a scaled-out stack's 26+ metrics
 * ports made that an observed EADDRINUSE on a busy machine).
 */
export async function freePortRange(count: number): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  for (let tries = 0; tries < 50; tries++) {
    const [ephemeralLow, ephemeralHigh] = ephemeralPortRange();
    // Below the ephemeral range when it leaves room (from 10000, clear of well-known services), else above it.
    const [low, high] = ephemeralLow - 10_000 > count ? [10_000, ephemeralLow - count] : [ephemeralHigh + 1, 65_536 - count];
    const base = low + Math.floor(Math.random() * (high - low));
    let all = true;
    for (let p = base; p < base + count && all; p++) all = await free(p);
    if (all) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}
