// Playback: a read-only server on the volume. Timeline from the recorders' journals, clips cut by time
// (-c copy across segments), segment files with byte ranges, and a web page.
export { parseRoots, playbackOptions } from './options.js';
export { Volumes, type VolumesOptions } from './volumes.js';
export { EXPORT_MANIFEST, MAX_EXPORT_DEVICES, parseDevices, serveExport, type ExportManifest } from './export-zip.js';
export { startPlaybackServer, type PlaybackSettings } from './server.js';
export { Library, checkDeviceName, FIRST_READ_WAIT_MS, type DeviceSummary, type Footage, type LibraryOptions, type RecorderTrace } from './library.js';
export { FootageIndex, FOLLOW_INTERVAL_MS, SegmentColumns, type DeviceIndexState, type FootageIndexOptions } from './footage-index.js';
export { timelineOf, SPAN_JOIN_MS, type Gap, type Span, type Timeline, type TimelineSegment } from './timeline.js';
export { audioFor, CLIP_FORMATS, clipArguments, concatQuote, concatScript, keyframeAtOrBefore, keyframeIn, parseFormat, probeKeyframe, timeParameter, parseRange, planClip, startCut, type ClipFormat, type ClipPlan, type ClipRequest } from './clip.js';
export { parseFilePath, serveFile } from './files.js';
export { keyframeFromMp4Index } from './mp4-index.js';
export { defaultMaxCuts, FfmpegSlot, FfmpegSlots, RETRY_AFTER_SECONDS } from './ffmpeg-slots.js';
export { cgroupCpuQuota, usableCpus } from './cpus.js';
export { localDateOf, localDay, localDayOf, parseTimeZone, timelineWindow, type LocalDay, type TimelineWindow } from './local-day.js';
export { chooseEncoder, listedEncoders, MAX_HEIGHT, parseHeight, parseVideo, TRANSCODE_GOP_SECONDS, TRANSCODE_SLOTS, TranscodePace, transcodeVideoArguments, type ClipVideo, type VideoEncoder } from './transcode.js';
export { hlsPlaylist, HLS_MAX_RANGE_SECONDS, HLS_PIECE_SECONDS, Mp4Layouts, parseHlsRequest, parsePieceRequest, pieceArguments, pieceScript, type HlsRequest, type PieceBounds, type PieceRequest } from './hls.js';
export { mp4Layout, type Mp4Layout, type Mp4Piece } from './mp4-index.js';
export { parseThumbnailRequest, ThumbnailCache, thumbnailArguments, thumbnailKey, THUMBNAIL_DEFAULT_WIDTH, THUMBNAIL_MAX_WIDTH, THUMBNAIL_MIN_WIDTH, type ThumbnailRequest } from './thumbnail.js';
export { openLiveDirectory } from './live-setup.js';
export { parseLiveBase, staticLiveDirectory, zLiveUrls, type LiveCamera, type LiveDirectory } from './live-directory.js';
export { LIVE_PREFIX, liveProxy, liveRoutes, upstreamUrl, type LiveProxyOptions } from './live-proxy.js';
