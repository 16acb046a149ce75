// The forwarder's live port, as the playback server's same-origin proxy passes it on: the files it serves per
// camera path, and the query parameters that are its own rather than the camera's.

/**
 * The files of one camera path, as a regular expression source with its capture groups, in order: the init
 * section's id; a segment's sequence; a part's segment sequence and index; a WHEP session's id.
 */
export const LIVE_FILE_PATTERN = String.raw`index\.m3u8|live\.m3u8|init-(\d{1,9})\.mp4|seg-(\d{1,12})\.m4s|part-(\d{1,12})\.(\d{1,4})\.m4s|whep|whep\/([0-9a-f]{24})`;

/** LL-HLS's blocking playlist reload (RFC 8216bis 6.2.5.2): a player adds them to the media playlist's URL. */
export const LL_HLS_PARAMETERS = ['_HLS_msn', '_HLS_part', '_HLS_skip'] as const;
