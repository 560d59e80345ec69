/**
 * A V8 CPU profile (`node --cpu-prof`) as folded stacks, the input of a flame graph
 * (inferno-flamegraph or flamegraph.pl): one line per distinct stack, `frame;frame;… samples`.
 *
 *   node dist-bench/bench/cpuprofile-folded.js <file.cpuprofile> [--top N]
 *
 * With --top, prints the N functions with the most self time instead, as a share of the profile.
 */
import fs from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A frame's name: the function and where it lives, shortened to the package or project file. */
function frameName({ functionName, url, lineNumber }: ProfileNode['callFrame']): string {
  const name = functionName || '(anonymous)';
  if (!url) return name;
  const modules = url.lastIndexOf('node_modules/');
  const where = modules >= 0 ? url.slice(modules + 'node_modules/'.length) : url.includes('/dist/') ? url.slice(url.lastIndexOf('/dist/') + 1) : path.basename(url);
  return `${name} ${where.replace(/^file:\/\//, '')}:${lineNumber + 1}`.replace(/;/g, ',');
}

export function foldedStacks(profile: CpuProfile): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stackOf = new Map<number, string>();
  const stack = (id: number): string => {
    const known = stackOf.get(id);
    if (known !== undefined) return known;
    const frames: string[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) frames.push(frameName(byId.get(at)!.callFrame));
    const folded = frames.reverse().join(';');
    stackOf.set(id, folded);
    return folded;
  };
  const folded = new Map<string, number>();
  // Weighted by time (µs), not by sample count: V8's sampling interval varies under load.
  profile.samples.forEach((id, i) => {
    const key = stack(id);
    folded.set(key, (folded.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  return folded;
}

function main(): void {
  const [file, flag, n] = process.argv.slice(2);
  if (!file) throw new Error('usage: cpuprofile-folded <file.cpuprofile> [--top N]');
  const folded = foldedStacks(JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile);
  if (flag === '--top') {
    const self = new Map<string, number>();
    let total = 0;
    for (const [stack, us] of folded) {
      const leaf = stack.slice(stack.lastIndexOf(';') + 1);
      self.set(leaf, (self.get(leaf) ?? 0) + us);
      total += us;
    }
    for (const [leaf, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(n ?? 25))) console.log(`${((us / total) * 100).toFixed(1).padStart(5)} %  ${leaf}`);
    return;
  }
  for (const [stack, us] of folded) if (us > 0) console.log(`${stack} ${Math.round(us)}`);
}

if (require.main === module) main();
