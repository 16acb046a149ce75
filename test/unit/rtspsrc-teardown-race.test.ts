// The e2e player's reading of rtspsrc's shutdown (test/e2e/fixtures/player.ts): its own PAUSE/CLOSE race is not
// a failed play; a connection the server cut is. The transcript is a real one (GStreamer 1.22, a busy machine),
// shortened to the lines that matter.
import { describe, expect, it } from 'vitest';
import { rtspsrcTeardownRace } from '../e2e/fixtures/player.js';

const race = [
  'Setting pipeline to PLAYING ...',
  'Progress: (request) Sent PLAY request',
  'Got EOS from element "pipeline0".',
  'Execution ended after 0:00:04.967634583',
  'Setting pipeline to NULL ...',
  '0:00:06.281521849  1326 0x55f4b8ffc980 DEBUG                rtspsrc gstrtspsrc.c:9355:gst_rtspsrc_thread:<rtspsrc0> got command PAUSE',
  '0:00:06.282526341  1326 0x55f4b8ffc980 DEBUG                rtspsrc gstrtspsrc.c:9130:gst_rtspsrc_pause:<rtspsrc0> PAUSE...',
  '0:00:06.288972440  1326 0x55f4b8e3e0f0 DEBUG                rtspsrc gstrtspsrc.c:6288:gst_rtspsrc_loop_send_cmd:<rtspsrc0> sending cmd CLOSE',
  '0:00:06.289025751  1326 0x55f4b8e3e0f0 DEBUG                rtspsrc gstrtspsrc.c:6320:gst_rtspsrc_loop_send_cmd:<rtspsrc0> connection flush busy PAUSE',
  '0:00:06.289412067  1326 0x55f4b8ffc980 WARN                 rtspsrc gstrtspsrc.c:6766:gst_rtspsrc_try_send:<rtspsrc0> error: Could not send message. (Received end-of-file)',
  'Freeing pipeline ...',
  'ERROR: from element /GstPipeline:pipeline0/GstRTSPSrc:rtspsrc0: Could not write to resource.',
  'Additional debug info:',
  '../gst/rtsp/gstrtspsrc.c(6766): gst_rtspsrc_try_send (): /GstPipeline:pipeline0/GstRTSPSrc:rtspsrc0:',
  'Could not send message. (Received end-of-file)',
  'ERROR: from element /GstPipeline:pipeline0/GstRTSPSrc:rtspsrc0: Could not write to resource.',
  'Additional debug info:',
  '../gst/rtsp/gstrtspsrc.c(9240): gst_rtspsrc_pause (): /GstPipeline:pipeline0/GstRTSPSrc:rtspsrc0:',
  'Could not send message. (Received end-of-file)',
].join('\n');

describe("rtspsrc's teardown race (e2e player)", () => {
  it('is recognised after EOS and every frame, from rtspsrc saying its CLOSE interrupted the busy PAUSE', () => {
    expect(rtspsrcTeardownRace(race, 100, 100)).toBe(true);
  });

  it('is not without that debug line: the same errors may mean the server cut the connection', () => {
    expect(rtspsrcTeardownRace(race.replace('connection flush busy PAUSE', 'connection flush busy LOOP'), 100, 100)).toBe(false);
  });

  it('is not when frames are missing, or an error came before EOS, or another error came with it', () => {
    expect(rtspsrcTeardownRace(race, 99, 100)).toBe(false);
    expect(rtspsrcTeardownRace(race.replace('Setting pipeline to PLAYING ...', 'ERROR: from element /GstPipeline:pipeline0/GstRTSPSrc:rtspsrc0: Could not read from resource.'), 100, 100)).toBe(false);
    expect(rtspsrcTeardownRace(`${race}\nERROR: from element /GstPipeline:pipeline0/GstRTSPSrc:rtspsrc0: Could not read from resource.\nAdditional debug info:\n../gst/rtsp/gstrtspsrc.c(6700): gst_rtsp_src_receive_response (): x\nCould not receive message. (Received end-of-file)`, 100, 100)).toBe(false);
  });
});
