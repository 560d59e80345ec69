import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type { GatewayStack } from '../test/helpers/gateway-stack';

/**
 * CPU time by process, from /proc/<pid>/stat (user + system, this process alone): where a
 * benchmark level's work went. Sampled before and after a level, the difference divided by the
 * payments (or workflows) it completed is the CPU each one cost in each process of the stack.
 */
const CLOCK_TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface StackProcess {
  name: string;
  pid: number;
}

/** Every process of the stack, and this one (the load clients, and the floor's workflow worker). */
export function stackProcesses(stack: GatewayStack): StackProcess[] {
  const list: StackProcess[] = [{ name: 'temporal server', pid: stack.stack.server.process.pid! }, { name: 'api', pid: stack.api.child.pid! }];
  // A cluster's API processes are children of the API's primary; /proc/<pid>/stat counts a process alone.
  for (const pid of childPids(stack.api.child.pid!)) list.push({ name: 'api', pid });
  // Several workers of a queue add up under the queue's name (cpuSample sums by name).
  for (const [queue, worker] of stack.stack.workers) list.push({ name: queue, pid: worker.child.pid! });
  for (const worker of stack.stack.replicas) list.push({ name: worker.name.replace(/^worker-(\w+)-\d+$/, '$1'), pid: worker.child.pid! });
  list.push({ name: 'acquirer sandbox', pid: stack.sandbox.process.child.pid! }, { name: 'bench (clients, floor worker)', pid: process.pid });
  return list;
}

function childPids(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).split('\n').map(Number).filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when there is none
  }
}

/** CPU milliseconds each process has used so far; a process that is gone counts 0. */
export function cpuSample(processes: readonly StackProcess[]): Map<string, number> {
  const sample = new Map<string, number>();
  for (const { name, pid } of processes) sample.set(name, (sample.get(name) ?? 0) + cpuMsOf(pid));
  return sample;
}

export function cpuDelta(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  return new Map([...after].map(([name, ms]) => [name, ms - (before.get(name) ?? 0)]));
}

function cpuMsOf(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: the fields after it start after its ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}
