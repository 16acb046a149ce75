// ffmpeg's fragmented MP4 read as it comes: the init section (ftyp + moov), then fragments (moof + mdat),
// each with its duration and whether it starts with a keyframe, which is all an HLS window needs to know.

/** What the init section says about the tracks: the one whose time the playlist counts, and its defaults. */
interface Tracks {
  /** The video track (the first track when there is none): fragments are timed and cut on it. */
  readonly timedTrack: number;
  readonly timescale: number;
  readonly defaultDuration: number;
  readonly defaultFlags: number;
  /** The video sample entry (`avc1`, `hvc1`, `hev1`…), undefined without video. */
  readonly videoEntry: string | undefined;
}

export interface Fmp4Fragment {
  /** moof + mdat, ready to serve. */
  readonly bytes: Buffer;
  readonly seconds: number;
  /** The timed track's first sample is a sync sample. */
  readonly keyframe: boolean;
}

export interface Fmp4Sink {
  /** `videoEntry`: the video sample entry type (`avc1`, `hvc1`, `hev1`…). */
  init(bytes: Buffer, videoEntry: string | undefined): void;
  fragment(fragment: Fmp4Fragment): void;
}

/** The stream is not the fragmented MP4 we asked ffmpeg for. */
export class Fmp4Error extends Error {}

interface Box {
  readonly type: string;
  /** Payload start and end (after the size and type). */
  readonly start: number;
  readonly end: number;
}

function boxes(buf: Buffer, start: number, end: number): Box[] {
  const out: Box[] = [];
  for (let at = start; at + 8 <= end; ) {
    let size = buf.readUInt32BE(at);
    let header = 8;
    if (size === 1) {
      if (at + 16 > end) break;
      size = Number(buf.readBigUInt64BE(at + 8));
      header = 16;
    }
    if (size < header || at + size > end) throw new Fmp4Error(`box at ${at} runs past its parent`);
    out.push({ type: buf.toString('latin1', at + 4, at + 8), start: at + header, end: at + size });
    at += size;
  }
  return out;
}

const child = (buf: Buffer, parent: Box, type: string): Box | undefined => boxes(buf, parent.start, parent.end).find((b) => b.type === type);
const children = (buf: Buffer, parent: Box, type: string): Box[] => boxes(buf, parent.start, parent.end).filter((b) => b.type === type);

/** A sample whose flags say "not a sync sample" (ISO/IEC 14496-12 §8.8.3.1, sample_is_non_sync_sample). */
const NON_SYNC = 0x0001_0000;

function readTracks(moov: Buffer): Tracks {
  const root: Box = { type: 'moov', start: 8, end: moov.length };
  const traks = children(moov, root, 'trak').map((trak) => {
    const tkhd = child(moov, trak, 'tkhd');
    const mdia = child(moov, trak, 'mdia');
    const mdhd = mdia && child(moov, mdia, 'mdhd');
    const hdlr = mdia && child(moov, mdia, 'hdlr');
    if (!tkhd || !mdhd || !hdlr) throw new Fmp4Error('a track without tkhd, mdhd or hdlr');
    const v1 = (b: Box): boolean => moov[b.start] === 1;
    const minf = child(moov, mdia, 'minf');
    const stbl = minf && child(moov, minf, 'stbl');
    const stsd = stbl && child(moov, stbl, 'stsd');
    // stsd: version/flags, entry count, then the first sample entry box (its type names the codec).
    const entry = stsd && stsd.start + 16 <= stsd.end ? moov.toString('latin1', stsd.start + 12, stsd.start + 16) : undefined;
    return {
      entry,
      id: moov.readUInt32BE(tkhd.start + (v1(tkhd) ? 20 : 12)),
      timescale: moov.readUInt32BE(mdhd.start + (v1(mdhd) ? 20 : 12)),
      handler: moov.toString('latin1', hdlr.start + 8, hdlr.start + 12),
    };
  });
  const timed = traks.find((t) => t.handler === 'vide') ?? traks[0];
  if (!timed || timed.timescale === 0) throw new Fmp4Error('no track with a timescale');
  const mvex = child(moov, root, 'mvex');
  const trex = mvex ? children(moov, mvex, 'trex').find((b) => moov.readUInt32BE(b.start + 4) === timed.id) : undefined;
  return {
    timedTrack: timed.id,
    timescale: timed.timescale,
    defaultDuration: trex ? moov.readUInt32BE(trex.start + 12) : 0,
    defaultFlags: trex ? moov.readUInt32BE(trex.start + 20) : 0,
    videoEntry: traks.find((t) => t.handler === 'vide')?.entry,
  };
}

/** Duration (in the track's timescale) and first-sample sync of the timed track's runs in one moof. */
function readFragment(moof: Buffer, tracks: Tracks): { ticks: number; keyframe: boolean } {
  const root: Box = { type: 'moof', start: 8, end: moof.length };
  for (const traf of children(moof, root, 'traf')) {
    const tfhd = child(moof, traf, 'tfhd');
    if (!tfhd || moof.readUInt32BE(tfhd.start + 4) !== tracks.timedTrack) continue;
    const tfFlags = moof.readUInt32BE(tfhd.start) & 0xff_ffff;
    let at = tfhd.start + 8;
    if (tfFlags & 0x01) at += 8; // base_data_offset
    if (tfFlags & 0x02) at += 4; // sample_description_index
    const defaultDuration = tfFlags & 0x08 ? moof.readUInt32BE(at) : tracks.defaultDuration;
    if (tfFlags & 0x08) at += 4;
    if (tfFlags & 0x10) at += 4; // default_sample_size
    const defaultFlags = tfFlags & 0x20 ? moof.readUInt32BE(at) : tracks.defaultFlags;
    let ticks = 0;
    let keyframe: boolean | undefined;
    for (const trun of children(moof, traf, 'trun')) {
      const flags = moof.readUInt32BE(trun.start) & 0xff_ffff;
      const count = moof.readUInt32BE(trun.start + 4);
      let p = trun.start + 8;
      if (flags & 0x001) p += 4; // data_offset
      let firstFlags: number | undefined;
      if (flags & 0x004) {
        firstFlags = moof.readUInt32BE(p);
        p += 4;
      }
      const entry = 4 * [0x100, 0x200, 0x400, 0x800].filter((f) => flags & f).length;
      if (p + count * entry > trun.end) throw new Fmp4Error('trun shorter than its sample count');
      for (let i = 0; i < count; i += 1, p += entry) {
        let q = p;
        const duration = flags & 0x100 ? moof.readUInt32BE(q) : defaultDuration;
        if (flags & 0x100) q += 4;
        if (flags & 0x200) q += 4;
        const sampleFlags = flags & 0x400 ? moof.readUInt32BE(q) : defaultFlags;
        ticks += duration;
        if (keyframe === undefined) keyframe = ((i === 0 && firstFlags !== undefined ? firstFlags : sampleFlags) & NON_SYNC) === 0;
      }
    }
    return { ticks, keyframe: keyframe ?? false };
  }
  return { ticks: 0, keyframe: false };
}

/**
 * Splits the byte stream into top-level boxes and hands over the init section and every complete fragment.
 * A box larger than `maxBoxBytes` stops it (Fmp4Error): memory stays bounded whatever the camera sends.
 */
export class Fmp4Reader {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private ftyp: Buffer | undefined;
  private tracks: Tracks | undefined;
  private moof: Buffer | undefined;
  /** The size of the box being read, once its header is in. */
  private need: number | undefined;

  constructor(
    private readonly sink: Fmp4Sink,
    private readonly maxBoxBytes: number,
  ) {}

  push(chunk: Buffer): void {
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    for (;;) {
      this.need ??= this.nextBoxSize();
      const size = this.need;
      if (size === undefined || this.bufferedBytes < size) return;
      this.need = undefined;
      const all = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered, this.bufferedBytes);
      // A copy: the rest of the read must not keep this box's memory, nor this box the rest's.
      const box = Buffer.from(all.subarray(0, size));
      const rest = all.subarray(size);
      this.buffered = rest.length > 0 ? [Buffer.from(rest)] : [];
      this.bufferedBytes = rest.length;
      this.take(box);
    }
  }

  private nextBoxSize(): number | undefined {
    if (this.bufferedBytes < 16) return undefined;
    if (this.buffered[0]!.length < 16) this.buffered = [Buffer.concat(this.buffered, this.bufferedBytes)];
    const head = this.buffered[0]!;
    const small = head.readUInt32BE(0);
    const size = small === 1 ? Number(head.readBigUInt64BE(8)) : small;
    if (size < 8) throw new Fmp4Error(`box of ${size} bytes (type ${head.toString('latin1', 4, 8)})`);
    if (size > this.maxBoxBytes) throw new Fmp4Error(`box of ${size} bytes is over the ${this.maxBoxBytes} the live window takes`);
    return size;
  }

  private take(box: Buffer): void {
    const type = box.toString('latin1', 4, 8);
    if (type === 'ftyp') this.ftyp = box;
    else if (type === 'moov') {
      this.tracks = readTracks(box);
      this.sink.init(this.ftyp ? Buffer.concat([this.ftyp, box]) : box, this.tracks.videoEntry);
    } else if (type === 'moof') this.moof = box;
    else if (type === 'mdat' && this.moof && this.tracks) {
      const { ticks, keyframe } = readFragment(this.moof, this.tracks);
      this.sink.fragment({ bytes: Buffer.concat([this.moof, box]), seconds: ticks / this.tracks.timescale, keyframe });
      this.moof = undefined;
    }
  }
}
