// Export: copy a device's segments out of the cluster through the export pod (exec + tar, like kubectl cp),
// checked against the recorder's journal and resumable.
export { exportCommand, exportOptions, parseTimeArgument } from './command.js';
export { exportSegments, ExportError, type ExportOptions, type ExportReport, type FileOutcome } from './transfer.js';
export { KubernetesPodShell, PodShellError, exitCodeOf, type PodRef, type PodShell, type ShellResult } from './pod-shell.js';
export { TarReader, TarFormatError, parseTarHeader, parsePaxRecords, type TarEntrySink, type TarHeader } from './tar-reader.js';
export { parseJournal, parseListing, selectSegments, startFromName, type ExportItem, type JournalEntry, type RemoteFile, type TimeWindow } from './selection.js';
export { planFile, localState, VerifiedManifest, PARTIAL_SUFFIX, MANIFEST_NAME, type FileAction, type LocalFileState, type VerifiedCopy } from './resume.js';
export { Progress, formatBytes, type ProgressOutput } from './progress.js';
