// The keyframe before a time from a fragmented MP4's own index, without ffprobe: the recorder's MP4 segments
// end with an `mfra` box whose `tfra` lists every fragment (its first sample's presentation time and where its
// `moof` is), and with `frag_keyframe` every keyframe starts a fragment. A few small reads instead of a process
// that opens the file and walks all its fragments (ISO/IEC 14496-12: mfra, mfro, tfra, moof, tfhd, tfdt, trun).
import { open } from 'node:fs/promises';

interface Box {
  readonly type: string;
  /** Where the box starts in the buffer, where its content starts, and where it ends. */
  readonly start: number;
  readonly body: number;
  readonly end: number;
}

function* boxes(buf: Buffer, start: number, end: number): Generator<Box> {
  let pos = start;
  while (pos + 8 <= end) {
    let size = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    let body = pos + 8;
    if (size === 1) {
      if (pos + 16 > end) return;
      size = Number(buf.readBigUInt64BE(pos + 8));
      body = pos + 16;
    } else if (size === 0) size = end - pos;
    if (size < body - pos || pos + size > end) return;
    yield { type, start: pos, body, end: pos + size };
    pos += size;
  }
}

function child(buf: Buffer, parent: Box, type: string): Box | undefined {
  for (const b of boxes(buf, parent.body, parent.end)) if (b.type === type) return b;
  return undefined;
}

function path(buf: Buffer, parent: Box, types: readonly string[]): Box | undefined {
  let at: Box | undefined = parent;
  for (const t of types) at = at && child(buf, at, t);
  return at;
}

/** A file read at places: on the volume, or an object in the bucket by ranged GETs (bucket-bytes.ts). */
export interface RandomAccess {
  readonly size: number;
  read(position: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

/** A file on the volume as RandomAccess; null when it cannot be opened. */
async function openLocal(file: string): Promise<RandomAccess | null> {
  const handle = await open(file, 'r').catch(() => null);
  if (!handle) return null;
  const { size } = await handle.stat().catch(async (err: unknown) => {
    await handle.close();
    throw err;
  });
  return {
    size,
    read: async (position, length) => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buf, 0, length, position);
      return buf.subarray(0, bytesRead);
    },
    close: () => handle.close(),
  };
}

const opened = (source: string | RandomAccess): Promise<RandomAccess | null> => (typeof source === 'string' ? openLocal(source) : Promise.resolve(source));

interface Track {
  readonly id: number;
  readonly timescale: number;
  readonly video: boolean;
}

/** The tracks' ids and time scales, from the moov at the file's start (empty_moov: a few KiB). */
function tracksOf(buf: Buffer): Track[] {
  const whole: Box = { type: '', start: 0, body: 0, end: buf.length };
  const moov = child(buf, whole, 'moov');
  const out: Track[] = [];
  if (!moov) return out;
  for (const trak of boxes(buf, moov.body, moov.end)) {
    if (trak.type !== 'trak') continue;
    const hdlr = path(buf, trak, ['mdia', 'hdlr']);
    const mdhd = path(buf, trak, ['mdia', 'mdhd']);
    const tkhd = child(buf, trak, 'tkhd');
    if (!hdlr || !mdhd || !tkhd) continue;
    const v1 = (b: Box): boolean => buf[b.body] === 1;
    const id = buf.readUInt32BE(tkhd.body + (v1(tkhd) ? 20 : 12));
    const timescale = buf.readUInt32BE(mdhd.body + (v1(mdhd) ? 20 : 12));
    if (timescale > 0) out.push({ id, timescale, video: buf.toString('latin1', hdlr.body + 8, hdlr.body + 12) === 'vide' });
  }
  return out;
}

interface Fragment {
  /** Presentation time of its first sample, in the track's time scale. */
  readonly time: number;
  readonly moof: number;
}

/** Every track's fragments from the mfra at the file's end (found through the mfro box, its last 16 bytes). */
async function fragments(handle: RandomAccess, size: number): Promise<Map<number, Fragment[]> | null> {
  const mfro = await handle.read(size - 16, 16);
  if (mfro.length !== 16 || mfro.toString('latin1', 4, 8) !== 'mfro') return null;
  const mfraSize = mfro.readUInt32BE(12);
  if (mfraSize < 16 || mfraSize > size || mfraSize > 64 << 20) return null;
  const buf = await handle.read(size - mfraSize, mfraSize);
  const whole: Box = { type: '', start: 0, body: 0, end: buf.length };
  const mfra = child(buf, whole, 'mfra');
  if (!mfra) return null;
  const out = new Map<number, Fragment[]>();
  for (const tfra of boxes(buf, mfra.body, mfra.end)) {
    if (tfra.type !== 'tfra') continue;
    const version = buf[tfra.body]!;
    const track = buf.readUInt32BE(tfra.body + 4);
    const sizes = buf.readUInt32BE(tfra.body + 8);
    const count = buf.readUInt32BE(tfra.body + 12);
    // traf, trun and sample numbers: 1 to 4 bytes each, as the box says.
    const skip = ((sizes >> 4) & 3) + ((sizes >> 2) & 3) + (sizes & 3) + 3;
    const list: Fragment[] = [];
    let p = tfra.body + 16;
    for (let i = 0; i < count; i++) {
      if (p + (version === 1 ? 16 : 8) + skip > tfra.end) return null;
      const time = version === 1 ? Number(buf.readBigUInt64BE(p)) : buf.readUInt32BE(p);
      const moof = version === 1 ? Number(buf.readBigUInt64BE(p + 8)) : buf.readUInt32BE(p + 4);
      p += (version === 1 ? 16 : 8) + skip;
      list.push({ time, moof });
    }
    out.set(track, list);
  }
  return out;
}

/** One track's part of the fragment whose moof is at `at`: the moof read, its traf, tfhd and tfdt, and the tfdt's decode time. */
interface TrackFragment {
  readonly buf: Buffer;
  readonly traf: Box;
  readonly tfhd: Box;
  readonly tfhdFlags: number;
  readonly dts: number;
}

async function trackFragment(handle: RandomAccess, at: number, track: number): Promise<TrackFragment | null> {
  const head = await handle.read(at, 16);
  if (head.length < 8 || head.toString('latin1', 4, 8) !== 'moof') return null;
  const size = head.readUInt32BE(0);
  if (size < 8 || size > 16 << 20) return null;
  const buf = await handle.read(at, size);
  const moof: Box = { type: 'moof', start: 0, body: 8, end: buf.length };
  for (const traf of boxes(buf, moof.body, moof.end)) {
    if (traf.type !== 'traf') continue;
    const tfhd = child(buf, traf, 'tfhd');
    const tfdt = child(buf, traf, 'tfdt');
    if (!tfhd || !tfdt || buf.readUInt32BE(tfhd.body + 4) !== track) continue;
    const dts = buf[tfdt.body] === 1 ? Number(buf.readBigUInt64BE(tfdt.body + 4)) : buf.readUInt32BE(tfdt.body + 4);
    return { buf, traf, tfhd, tfhdFlags: buf.readUIntBE(tfhd.body + 1, 3), dts };
  }
  return null;
}

/** Where tfhd's default sample duration is (after the base data offset and sample description index, when present). */
const tfhdDefaults = (f: TrackFragment): number => f.tfhd.body + 8 + (f.tfhdFlags & 0x1 ? 8 : 0) + (f.tfhdFlags & 0x2 ? 4 : 0);

/** Whether the fragment's first sample of `track` is a sync sample, and its decode time; null when the moof says neither. */
async function fragmentStart(handle: RandomAccess, at: number, track: number): Promise<{ sync: boolean; dts: number } | null> {
  const f = await trackFragment(handle, at, track);
  const trun = f && child(f.buf, f.traf, 'trun');
  if (!f || !trun) return null;
  const { buf, tfhdFlags } = f;
  // After the default duration and size, when present.
  const q = tfhdDefaults(f) + (tfhdFlags & 0x8 ? 4 : 0) + (tfhdFlags & 0x10 ? 4 : 0);
  const defaultFlags = tfhdFlags & 0x20 ? buf.readUInt32BE(q) : null;
  const trunFlags = buf.readUIntBE(trun.body + 1, 3);
  let r = trun.body + 8;
  if (trunFlags & 0x1) r += 4; // data offset
  let flags: number | null = null;
  if (trunFlags & 0x4) flags = buf.readUInt32BE(r);
  else if (trunFlags & 0x400) {
    // The first sample's own flags: after its duration and size, when present.
    const at0 = r + (trunFlags & 0x100 ? 4 : 0) + (trunFlags & 0x200 ? 4 : 0);
    flags = buf.readUInt32BE(at0);
  } else flags = defaultFlags;
  if (flags === null) return null;
  // sample_is_non_sync_sample is bit 16.
  return { sync: (flags & 0x10000) === 0, dts: f.dts };
}

/** Decode time just past the last sample of `track` in the fragment at `at` (its tfdt plus its samples' durations). */
async function fragmentEnd(handle: RandomAccess, at: number, track: number, trexDuration: number): Promise<number | null> {
  const f = await trackFragment(handle, at, track);
  if (!f) return null;
  const { buf, tfhdFlags } = f;
  const defaultDuration = tfhdFlags & 0x8 ? buf.readUInt32BE(tfhdDefaults(f)) : trexDuration;
  let end = f.dts;
  for (const trun of boxes(buf, f.traf.body, f.traf.end)) {
    if (trun.type !== 'trun') continue;
    const flags = buf.readUIntBE(trun.body + 1, 3);
    const count = buf.readUInt32BE(trun.body + 4);
    let r = trun.body + 8 + (flags & 0x1 ? 4 : 0) + (flags & 0x4 ? 4 : 0);
    // Per sample: duration, size, flags, composition offset, each 4 bytes when the trun says so.
    const stride = 4 * [0x100, 0x200, 0x400, 0x800].filter((bit) => flags & bit).length;
    if (r + count * stride > trun.end) return null;
    for (let i = 0; i < count; i++, r += stride) end += flags & 0x100 ? buf.readUInt32BE(r) : defaultDuration;
  }
  return end;
}

/** trex's default sample duration per track (moov/mvex): what a fragment without its own falls back to. */
function trexDurations(buf: Buffer): Map<number, number> {
  const out = new Map<number, number>();
  const mvex = path(buf, { type: '', start: 0, body: 0, end: buf.length }, ['moov', 'mvex']);
  if (!mvex) return out;
  for (const trex of boxes(buf, mvex.body, mvex.end)) if (trex.type === 'trex' && trex.end - trex.body >= 20) out.set(buf.readUInt32BE(trex.body + 4), buf.readUInt32BE(trex.body + 12));
  return out;
}

/**
 * Where a cut from a keyframe can start reading a fragmented MP4 without ffmpeg walking it: ffmpeg's MP4 reader
 * reads every moof of a seekable fragmented file at open to build its index (half a second for an hour on a busy
 * machine), so a cut is given the init segment and the file from the keyframe's moof on instead.
 */
export interface Mp4Entry {
  /** Decode time (s, the file's timestamps) of the last video keyframe presented at or before the offset. */
  readonly keyframe: number;
  /** The file's first timestamp (s): the earliest first presentation of any track, as ffprobe's start_time. */
  readonly fileStart: number;
  /** Bytes of ftyp + moov at the file's start (the init segment). */
  readonly initBytes: number;
  /** Byte offset of the moof whose fragment starts with that keyframe. */
  readonly moof: number;
  /** Where the file ends (s, the file's timestamps) as ffmpeg counts it: where the next file's timestamps follow on. Null: not asked for. */
  readonly end: number | null;
}

/** Where a fragmented MP4 ends as ffmpeg counts it: each track's first presentation plus its decode span (a B-frame delay in). */
async function fileEnd(handle: RandomAccess, head: Buffer, tracks: readonly Track[], all: ReadonlyMap<number, readonly Fragment[]>): Promise<number | null> {
  const trex = trexDurations(head);
  let end = 0;
  for (const t of tracks) {
    const own = all.get(t.id);
    const first = own?.[0];
    const last = own?.at(-1);
    if (!first || !last) continue;
    const firstDts = (await fragmentStart(handle, first.moof, t.id))?.dts;
    const lastDts = await fragmentEnd(handle, last.moof, t.id, trex.get(t.id) ?? 0);
    if (firstDts === undefined || lastDts === null) return null;
    end = Math.max(end, (first.time - firstDts + lastDts) / t.timescale);
  }
  return end;
}

/** What both readers of the fragment index start from: the tracks, every track's fragments, the video track's. */
interface VideoFragments {
  readonly head: Buffer;
  readonly tracks: Track[];
  readonly all: Map<number, Fragment[]>;
  readonly video: Track;
  readonly list: Fragment[];
  /** Where the init segment (ftyp + moov) ends: the first video fragment's moof. */
  readonly initBytes: number;
  /** ffprobe's start_time: the earliest first presentation of any track, each in its own time scale. */
  readonly fileStart: number;
}

/** Null when the file has no video track, no fragment index, or an init segment beyond the head read. */
async function videoFragments(handle: RandomAccess): Promise<VideoFragments | null> {
  const { size } = handle;
  const head = await handle.read(0, Math.min(size, 256 * 1024));
  const tracks = tracksOf(head);
  const video = tracks.find((t) => t.video);
  const all = video && (await fragments(handle, size));
  const list = video && all?.get(video.id);
  if (!video || !all || !list || list.length === 0) return null;
  const initBytes = list[0]!.moof;
  if (initBytes <= 0 || initBytes > head.length) return null;
  const fileStart = Math.min(...tracks.map((t) => (all.get(t.id)?.[0]?.time ?? Infinity) / t.timescale));
  return { head, tracks, all, video, list, initBytes, fileStart };
}

/**
 * The keyframe at or before `offset` seconds into the file, from the file's own fragment index (see Mp4Entry). Null
 * when the file has no such index or it does not answer (not fragmented, no mfra, no keyframe found): ask ffprobe then.
 */
export async function mp4EntryAt(file: string | RandomAccess, offset: number, withEnd = false): Promise<Mp4Entry | null> {
  const handle = await opened(file);
  if (!handle) return null;
  try {
    const indexed = await videoFragments(handle);
    if (!indexed) return null;
    const { head, tracks, all, video, list, initBytes, fileStart } = indexed;
    const target = (fileStart + offset) * video.timescale + 1e-3 * video.timescale;
    // From the last fragment presented at or before the target backwards to the first that starts with a keyframe.
    let i = list.length - 1;
    while (i >= 0 && list[i]!.time > target) i--;
    for (let checked = 0; i >= 0 && checked < 600; i--, checked++) {
      const start = await fragmentStart(handle, list[i]!.moof, video.id);
      if (start === null) return null;
      if (!start.sync) continue;
      const end = withEnd ? await fileEnd(handle, head, tracks, all) : null;
      return { keyframe: start.dts / video.timescale, fileStart, initBytes, moof: list[i]!.moof, end };
    }
    return null;
  } finally {
    await handle.close();
  }
}

/**
 * The decode time (s, in the file's timestamps) of the last video keyframe presented at or before `offset`
 * seconds into the file, and the file's first timestamp, from the file's own fragment index (null: ask ffprobe).
 */
export async function keyframeFromMp4Index(file: string | RandomAccess, offset: number): Promise<{ keyframe: number; fileStart: number } | null> {
  const entry = await mp4EntryAt(file, offset);
  return entry && { keyframe: entry.keyframe, fileStart: entry.fileStart };
}

/** A run of fragments that starts with a video keyframe: one HLS media segment as a byte range of the file. */
export interface Mp4Piece {
  /** Seconds from the file's first timestamp to the piece's first video sample. */
  readonly offset: number;
  readonly seconds: number;
  /** Byte range in the file: the piece's moof/mdat pairs. */
  readonly from: number;
  readonly to: number;
}

/** A fragmented MP4's layout for HLS: where its init segment (ftyp + moov) ends, and its keyframe-led pieces. */
export interface Mp4Layout {
  readonly initBytes: number;
  readonly pieces: readonly Mp4Piece[];
}

/**
 * The file cut into pieces of about `targetSeconds`, each a byte range that starts with a video keyframe (so a
 * player can start at any of them), from the mfra index and only the moofs of candidate boundaries (one small
 * read each, not one per fragment). `lastSeconds` ends the last piece (the journal's duration: fMP4 has no total).
 * Null when the file has no fragment index.
 */
export async function mp4Layout(file: string | RandomAccess, targetSeconds: number, lastSeconds: number): Promise<Mp4Layout | null> {
  const handle = await opened(file);
  if (!handle) return null;
  try {
    const indexed = await videoFragments(handle);
    if (!indexed) return null;
    const { video, list, initBytes, fileStart } = indexed;
    const { size } = handle;
    const mfro = await handle.read(size - 16, 16);
    const mediaEnd = size - mfro.readUInt32BE(12);
    const at = (i: number): number => list[i]!.time / video.timescale - fileStart;
    // Piece starts: fragment 0 (a segment starts with a keyframe), then the first keyframe fragment at least
    // targetSeconds after the last start.
    const starts = [0];
    for (let i = 1; i < list.length; i++) {
      if (at(i) - at(starts.at(-1)!) < targetSeconds) continue;
      const start = await fragmentStart(handle, list[i]!.moof, video.id);
      if (start?.sync) starts.push(i);
    }
    const pieces: Mp4Piece[] = starts.map((i, n) => {
      const next = starts[n + 1];
      const offset = Math.max(0, at(i));
      const end = next === undefined ? Math.max(lastSeconds, offset + 0.1) : at(next);
      return { offset, seconds: Math.max(0.001, end - offset), from: list[i]!.moof, to: next === undefined ? mediaEnd : list[next]!.moof };
    });
    return { initBytes, pieces };
  } finally {
    await handle.close();
  }
}
