import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes a bundle's files into `dir` (created; an existing directory must be empty, so that no stale file is mistaken for part of it). */
export function writeBundleDir(dir: string, files: ReadonlyMap<string, string>): void {
  mkdirSync(dir, { recursive: true });
  const present = readdirSync(dir);
  if (present.length > 0) throw new Error(`${dir} is not empty (${present.slice(0, 3).join(', ')}${present.length > 3 ? ', …' : ''}): write a bundle into a new directory`);
  for (const [name, text] of files) writeFileSync(join(dir, name), text);
}

/** Every regular file directly in `dir`, by name: what verifyBundle checks. */
export function readBundleDir(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isFile()) files.set(name, readFileSync(path));
  }
  return files;
}
