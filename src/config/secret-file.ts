import fs from 'node:fs';
import path from 'node:path';

/**
 * Creates a secret file once, 0600 in a 0700 directory, unless it exists. Written aside and linked
 * into place: the link fails if another process starting at the same moment got there first, and
 * nobody ever reads a half-written file. Used for the local master key and the development JWT secret.
 */
export function createSecretFileOnce(file: string, content: () => string): void {
  if (fs.existsSync(file)) return;
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const partial = `${file}.${process.pid}.partial`;
  fs.writeFileSync(partial, content(), { mode: 0o600 });
  try {
    fs.linkSync(partial, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    fs.rmSync(partial, { force: true });
  }
}

/** The file's mode in octal if group or others have any access to it (a secret then protects nothing). */
export function looseMode(file: string): string | undefined {
  const mode = fs.statSync(file).mode & 0o777;
  return mode & 0o077 ? mode.toString(8) : undefined;
}
