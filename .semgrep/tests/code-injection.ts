// Test cases for ../rules/code-injection.yml (semgrep --test). Bad on purpose; not scanned as code.
import { exec, execFile, execSync, spawn } from 'node:child_process';
import * as vm from 'node:vm';
declare const input: string;

// ruleid: gateway.no-eval
eval(input);
// ruleid: gateway.no-eval
const f = new Function('a', input);
// ruleid: gateway.no-eval
setTimeout('alert(1)', 10);
// ok: gateway.no-eval
setTimeout(() => f(), 10);

// ruleid: gateway.no-vm-code-execution
vm.runInNewContext(input);

// ruleid: gateway.child-process-shell-string
exec(`ls ${input}`);
// ruleid: gateway.child-process-shell-string
execSync('git log ' + input);
// ruleid: gateway.child-process-shell-string
spawn('sh', ['-c', input], { shell: true });
// ok: gateway.child-process-shell-string
execFile('git', ['log', input]);
// ok: gateway.child-process-shell-string
exec('ls -la');
