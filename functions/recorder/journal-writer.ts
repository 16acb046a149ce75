// The recorder writes the journal (its format and readers: contracts/journal.ts): one line per record, appended
// and fsynced, so a reader that sees a line can trust the file it names.
import { open } from 'node:fs/promises';
import { archiveRecordSchema, deletionRecordSchema, type ArchiveRecord, type DeletionRecord, type Segment } from '../contracts/index.js';

/**
 * Appends one segment and fsyncs: once this resolves, the segment survives a power cut. A torn last line
 * (a power cut mid-append) is ended first, so that it cannot swallow this one.
 */
export async function appendToJournal(file: string, segment: Segment): Promise<void> {
  await appendLine(file, segment);
}

/** Appends retention's record of a deleted segment file (fsynced), so readers drop it without a stat. */
export async function appendDeletionToJournal(file: string, deletion: Omit<DeletionRecord, 'kind'>): Promise<void> {
  await appendLine(file, deletionRecordSchema.parse({ kind: 'deletion', ...deletion }));
}

/** Appends the archive's record of an uploaded segment (fsynced): its object is complete in the bucket. */
export async function appendArchiveToJournal(file: string, archive: Omit<ArchiveRecord, 'kind'>): Promise<void> {
  await appendLine(file, archiveRecordSchema.parse({ kind: 'archive', ...archive }));
}

async function appendLine(file: string, record: object): Promise<void> {
  const handle = await open(file, 'a+');
  try {
    const { size } = await handle.stat();
    const last = Buffer.alloc(1);
    if (size > 0) await handle.read(last, 0, 1, size - 1);
    const torn = size > 0 && last[0] !== 0x0a;
    await handle.appendFile(`${torn ? '\n' : ''}${JSON.stringify(record)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
