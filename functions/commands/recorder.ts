// `shifu-rtsp recorder`: wires the recorder, its HTTP API, metrics and events to the process.
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import { ConfigError, createLogger, defineCommand, locateFfmpeg, locateFfprobe, onShutdown, registerSecret, requireFfmpeg5 } from '../lib/index.js';
import { archiveOptions, archiveTarget, attachArchive, holdRetentionForArchive, type ArchiveTarget } from '../archive/index.js';
import { attachEvents, eventOptions } from '../events/index.js';
import { recorderEnvValue } from '../contracts/index.js';
import { appendArchiveToJournal, DeviceLease, parseCameraAddress, Recorder, recorderMetrics, recorderOptions, serveRecorderApi } from '../recorder/index.js';

/**
 * V8 flags on top of the lean ones (commands/lean.ts) for a recorder with a bucket. The AWS SDK's JavaScript runs at
 * every upload; under the lean flags the memory reducer's collection after each upload dropped its bytecode
 * (--bytecode-old-age=1), so every upload compiled the SDK again. Kept: the archive's CPU in the recorder's Node
 * -37 % for PSS +1.1 MiB (bench archive, 2026-12-07, one window beside the same build without it); a recorder
 * without a bucket keeps flushing.
 */
export const ARCHIVING_V8_FLAGS: readonly string[] = ['--no-flush-bytecode'];

/** Sets ARCHIVING_V8_FLAGS when archiving is on (`target` not null); V8 reads the flag at its next flush. */
export function applyArchivingV8Flags(target: ArchiveTarget | null, setFlag: (flag: string) => void = (flag) => v8.setFlagsFromString(flag)): void {
  if (target === null) return;
  for (const flag of ARCHIVING_V8_FLAGS) setFlag(flag);
}

export const recorderCommand = defineCommand({
  name: 'recorder',
  summary: 'record one camera into segment files, with an HTTP API to switch recording on and off',
  details: [
    'Files: <out>/<device>/<device>_<UTC start>.<ext>; open segments live in <out>/<device>/.recording/.',
    'HTTP: POST /record/on, POST /record/off, GET /record/status, /health, /ready, /metrics.',
    'SIGTERM stops like /record/off, then exits 0.',
    'Events: with --sink (K_SINK), one CloudEvent per finished segment, queued in <out>/.shifu-rtsp/<device>/outbox/.',
    'Archive: with --archive-s3-bucket (ARCHIVE_S3_BUCKET), every finished segment is uploaded to S3 once.',
  ].join('\n'),
  options: { ...recorderOptions, ...eventOptions, ...archiveOptions },
  async run(config, ctx) {
    let password = recorderEnvValue(ctx.env, 'password');
    if (config.passwordFile) {
      try {
        password = readFileSync(config.passwordFile, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        throw new ConfigError(`invalid --password-file: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    // Before anything starts: a half-given archive configuration stops here, naming the variable.
    const archiveAt = archiveTarget(config, config.device, ctx.env);
    applyArchivingV8Flags(archiveAt);
    const camera = parseCameraAddress(config.url, config.username, password);
    registerSecret(camera.password);
    const ffmpeg = locateFfmpeg(ctx.env);
    const ffprobe = locateFfprobe(ctx.env);
    requireFfmpeg5('ffmpeg', ffmpeg);
    requireFfmpeg5('ffprobe', ffprobe);
    const log = createLogger('recorder').child({ device: config.device });
    const recorder = new Recorder(
      {
        device: config.device,
        camera,
        out: config.out,
        segmentSeconds: config.segmentSeconds,
        format: config.format,
        audio: config.audio,
        transport: config.transport,
        alignToClock: config.alignToClock,
        watchdogSeconds: config.watchdogSeconds,
        retention: { retainHours: config.retainHours, retainBytes: config.retainBytes, minFreePercent: config.minFreePercent },
        ffmpeg,
        ffprobe,
      },
      log,
    );
    log.info({ camera: camera.displayUrl, out: config.out, format: config.format, segmentSeconds: config.segmentSeconds }, 'starting');
    // Before anything reads or writes the device's folders (events replay, crash recovery): one recorder per folder.
    const lease = await DeviceLease.take({
      stateDir: recorder.store.stateDir,
      renewSeconds: config.leaseRenewSeconds,
      onTakeover: (reason, holder) => log.warn({ holder, reason }, 'took over a stale device folder lease'),
      onUnnamed: (code) => log.warn({ code }, 'took the device folder lease, but the volume is full: it does not name this recorder'),
      onLost: () => {
        // Another recorder judged this one gone (frozen or cut off for longer than its missed renewals) and took
        // the folder: stop writing into it as soon as possible.
        log.error({ lease: lease.file }, 'lost the device folder lease to another recorder; stopping');
        process.kill(process.pid, 'SIGTERM');
      },
    });
    // Before open() and its first retention sweep: while archiving is on, retention deletes only what is archived.
    holdRetentionForArchive(recorder, archiveAt);
    // Before open(): segments crash recovery finishes there are announced too (recovered: true).
    const announcer = await attachEvents(recorder, config, log);
    await recorder.open();
    // After open(): the journal it follows holds what crash recovery finished.
    registerSecret(ctx.env.AWS_SECRET_ACCESS_KEY);
    const archive = await attachArchive(recorder, archiveAt, log, {
      announce: (record) => announcer.archived(record),
      journal: (record) => appendArchiveToJournal(recorder.store.journalPath, record),
    });
    const metrics = recorderMetrics(recorder);
    announcer.metrics(metrics);
    archive?.metrics(metrics);
    registerSecret(config.apiToken);
    const app = await serveRecorderApi(recorder, config.httpListen, log, metrics, config.apiToken, archive ? { archive: () => archive.status() } : {});
    log.info({ listen: { address: config.httpListen.host, port: app.port } }, 'http api listening');
    if (!config.idle) recorder.on();
    await new Promise<void>((resolve) => {
      onShutdown(async () => {
        const status = await recorder.close();
        // Before the announcer: what the archive uploaded is announced and journaled before the outbox closes.
        await archive?.close();
        // After the recorder: its last segment's event is queued before the flush.
        await announcer.close();
        await app.close();
        await lease.release();
        log.info({ lastSegment: status.lastSegment?.file ?? null }, 'stopped');
        resolve();
      }, log);
    });
    return 0;
  },
});
