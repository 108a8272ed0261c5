import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { OutcomeStorage, StoredOutcome } from './outcome-store.js';

const FILE_VERSION = 1;

/**
 * Outcomes as one JSON file, replaced atomically (write a temporary file, fsync, rename), so a
 * crash mid-write leaves the previous file intact.
 */
export class JsonFileOutcomeStorage<T> implements OutcomeStorage<T> {
  private readonly fileSchema: z.ZodType<{ version: number; outcomes: StoredOutcome<T>[] }>;

  constructor(
    readonly path: string,
    valueSchema: z.ZodType<T>,
    /** Told when an unreadable file was moved aside; the agent then starts with no outcomes. */
    private readonly onCorrupt: (movedTo: string, reason: string) => void = () => undefined,
  ) {
    this.fileSchema = z.object({
      version: z.literal(FILE_VERSION),
      outcomes: z.array(z.object({ key: z.string().min(1), value: valueSchema })),
    });
  }

  async load(): Promise<StoredOutcome<T>[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    let reason: string;
    try {
      const parsed = this.fileSchema.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data.outcomes;
      reason = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    } catch (error) {
      reason = error instanceof Error ? error.message : String(error);
    }
    // Kept for a human to look at, out of the way of the next save.
    const movedTo = `${this.path}.corrupt-${Date.now()}`;
    await rename(this.path, movedTo);
    this.onCorrupt(movedTo, reason);
    return [];
  }

  async save(outcomes: StoredOutcome<T>[]): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const temporary = `${this.path}.tmp-${process.pid}`;
    const handle = await open(temporary, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify({ version: FILE_VERSION, outcomes }, null, 2) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, this.path);
  }
}
