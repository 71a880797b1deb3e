/**
 * Reports appear all together or not at all. Renaming files one by one is atomic per file only: a run killed
 * between two renames would leave this run's documents.csv beside the last run's clusters.csv. So a run
 * writes its reports into a fresh folder of its own (a generation), and one rename then switches the link
 * OUT/current from the last generation to it. OUT/documents.csv and the others are links into
 * `current/`, made once: they follow the switch together.
 *
 *   OUT/current           -> .reports-<run>          (replaced by one rename per run)
 *   OUT/documents.csv     -> current/documents.csv   (made once, never changed)
 *   OUT/.reports-<run>/   the files themselves
 *
 * Killed before the switch, OUT shows the last run's reports and a half-written generation that the next run
 * removes; killed after it, the new ones. Two runs writing into one OUT at once are not supported.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { temporaryPathFor } from './atomic-write.js';

export const CURRENT = 'current';
const GENERATION_PREFIX = '.reports-';

/**
 * Runs `write(folder)` to write the reports named `names` into a fresh folder, then makes them OUT's reports
 * in one step. Returns what `write` returns.
 */
export async function publishReports<T>(out: string, names: string[], write: (folder: string) => Promise<T>): Promise<T> {
  await mkdir(out, { recursive: true });
  // What killed runs left half-written: nothing links to it.
  await removeGenerationsBut(out, await readlink(join(out, CURRENT)).catch(() => undefined));
  const generation = `${GENERATION_PREFIX}${Date.now().toString(36)}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const folder = join(out, generation);
  await mkdir(folder);
  let result: T;
  try {
    result = await write(folder);
  } catch (error) {
    await rm(folder, { recursive: true, force: true });
    throw error;
  }
  await replaceLink(join(out, CURRENT), generation);
  for (const name of names) {
    const path = join(out, name);
    const target = join(CURRENT, name);
    const existing = await lstat(path).catch(() => undefined);
    if (existing?.isSymbolicLink() && (await readlink(path)) === target) continue;
    // First run in this folder, or reports from before generations: from now on a link into current/.
    await replaceLink(path, target);
  }
  // The generation before: nothing links to it any more.
  await removeGenerationsBut(out, generation);
  return result;
}

async function removeGenerationsBut(out: string, keep: string | undefined): Promise<void> {
  for (const entry of await readdir(out)) {
    if (entry.startsWith(GENERATION_PREFIX) && entry !== keep) await rm(join(out, entry), { recursive: true, force: true });
  }
}

/** Points `path` at `target` in one rename, whatever `path` was before (absent, a file or a link). */
async function replaceLink(path: string, target: string): Promise<void> {
  const temporary = temporaryPathFor(path);
  await symlink(target, temporary);
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
