#!/usr/bin/python3
"""A loopback RTSP server that serves a pre-encoded H.264 clip, looped forever, paced at real time.

Bench support only (run with /usr/bin/python3: needs python3-gi + gir1.2-gst-rtsp-server-1.0).
The clip (Annex B byte stream, no B-frames) is split into access units once at start-up; an appsrc then
pushes them on a wall-clock schedule (frame n at start + n / fps), with timestamps that keep growing
across loops, so every client sees one endless live stream and nothing is re-encoded. The factory is
shared: all clients of a mount get the same pipeline, like a camera's single encoder.

Prints `READY rtsp://127.0.0.1:PORT/PATH` once listening, then one `STATS pushed=N loops=L late_ms=X`
line to stderr every 5 s so the bench can check the pacing.
"""
import argparse
import signal
import sys
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def load_access_units(clip: str):
    """Splits the clip into access units with h264parse; returns (caps, [(bytes, is_keyframe)])."""
    pipeline = Gst.parse_launch(
        f'filesrc location="{clip}" ! h264parse '
        "! video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=sink sync=false"
    )
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    units = []
    caps = None
    while True:
        sample = sink.emit("pull-sample")
        if sample is None:
            break
        caps = caps or sample.get_caps()
        buf = sample.get_buffer()
        ok, info = buf.map(Gst.MapFlags.READ)
        if ok:
            units.append((bytes(info.data), not buf.has_flags(Gst.BufferFlags.DELTA_UNIT)))
            buf.unmap(info)
    pipeline.set_state(Gst.State.NULL)
    if not units or caps is None:
        raise SystemExit(f"clip-server: no H.264 access units in {clip}")
    return caps, units


class Feeder:
    """Pushes the clip's access units into one media's appsrc at real time, forever."""

    def __init__(self, appsrc, caps, units, fps: int, stats: dict):
        self.src = appsrc
        self.units = units
        self.frame_ns = Gst.SECOND // fps
        self.n = 0
        self.start = None
        self.offset = None
        self.stats = stats
        text = caps.to_string()
        if "framerate=" not in text:
            text += f", framerate=(fraction){fps}/1"
        caps = Gst.Caps.from_string(text)
        appsrc.set_property("caps", caps)
        appsrc.set_property("format", Gst.Format.TIME)
        appsrc.set_property("is-live", True)
        appsrc.set_property("do-timestamp", False)
        # A few seconds of room: the schedule, not back-pressure, sets the pace.
        appsrc.set_property("max-bytes", 16 * 1024 * 1024)
        self.source_id = GLib.timeout_add(5, self.tick)

    def running_time(self) -> int:
        clock = self.src.get_clock()
        base = self.src.get_base_time()
        if clock is None:
            return 0
        return max(0, clock.get_time() - base)

    def tick(self) -> bool:
        now = time.monotonic_ns()
        if self.start is None:
            self.start = now
            self.offset = self.running_time()
        # Every frame that is due by now, in order (more than one only after a late wake-up).
        while self.start + self.n * self.frame_ns <= now:
            data, key = self.units[self.n % len(self.units)]
            buf = Gst.Buffer.new_wrapped(data)
            pts = self.offset + self.n * self.frame_ns
            buf.pts = pts
            buf.dts = pts
            buf.duration = self.frame_ns
            if not key:
                buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
            ret = self.src.emit("push-buffer", buf)
            if ret != Gst.FlowReturn.OK:
                return False
            late = (now - (self.start + self.n * self.frame_ns)) / 1e6
            self.stats["late_ms"] = max(self.stats["late_ms"], late)
            self.stats["pushed"] += 1
            if self.n > 0 and self.n % len(self.units) == 0:
                self.stats["loops"] += 1
            self.n += 1
        return True

    def stop(self) -> None:
        if self.source_id:
            GLib.source_remove(self.source_id)
            self.source_id = 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--clip", required=True, help="H.264 Annex B file (no B-frames)")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--path", default="/stream")
    p.add_argument("--fps", type=int, default=25)
    a = p.parse_args()

    Gst.init(None)
    caps, units = load_access_units(a.clip)
    stats = {"pushed": 0, "loops": 0, "late_ms": 0.0, "medias": 0}

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(a.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch("( appsrc name=src ! rtph264pay name=pay0 pt=96 config-interval=-1 mtu=1400 )")
    factory.set_shared(True)
    feeders = {}

    def on_unprepared(media):
        feeder = feeders.pop(id(media), None)
        if feeder:
            feeder.stop()

    def on_configure(_factory, media):
        stats["medias"] += 1
        src = media.get_element().get_by_name("src")
        feeders[id(media)] = Feeder(src, caps, units, a.fps, stats)
        media.connect("unprepared", on_unprepared)

    factory.connect("media-configure", on_configure)
    server.get_mount_points().add_factory(a.path, factory)

    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)

    def report() -> bool:
        print(
            f"STATS pushed={stats['pushed']} loops={stats['loops']} late_ms={stats['late_ms']:.1f} medias={stats['medias']}",
            file=sys.stderr,
            flush=True,
        )
        stats["late_ms"] = 0.0
        return True

    GLib.timeout_add_seconds(5, report)
    if server.attach(None) == 0:
        print(f"clip-server: cannot listen on 127.0.0.1:{a.port}", file=sys.stderr, flush=True)
        return 2
    print(f"clip-server: {len(units)} access units from {a.clip}", file=sys.stderr, flush=True)
    print(f"READY rtsp://127.0.0.1:{server.get_bound_port()}{a.path}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
