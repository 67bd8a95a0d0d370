#!/usr/bin/env python3
"""The full-screen wizard over a pty at 80x24, as a technician on a slow SSH link meets it.

Prints: time to first frame, bytes written per arrow key in a list and per character typed in a
field, peak RSS, and how long the process takes to go after SIGHUP.
Targets (issue 6): first frame < 50 ms, <= 50 bytes per arrow key, peak RSS < 8 MB, gone < 2 s.

Run: cargo build --release && python3 benches/wizard_tty.py [path/to/edgeprep]
Only the standard library; uses the demo device (a temporary copy, removed on exit).
"""

import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time

BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "target", "release", "edgeprep")
DOWN, RIGHT = b"\x1b[B", b"\x1b[C"


def spawn():
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm-256color"
        os.environ.pop("NO_COLOR", None)
        os.execv(BIN, [BIN, "--demo"])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    return pid, fd


def read_until_quiet(fd, quiet=0.15, limit=5.0):
    """Everything the program writes until it has been quiet for `quiet` seconds."""
    out = b""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], quiet)
        if not ready:
            break
        try:
            out += os.read(fd, 65536)
        except OSError:
            break
    return out


def first_frame(fd, started, marker=b"What to do:"):
    out = b""
    while marker not in out:
        ready, _, _ = select.select([fd], [], [], 5)
        if not ready:
            raise SystemExit("no first frame within 5 s")
        out += os.read(fd, 65536)
    return time.monotonic() - started, len(out)


def per_key(fd, key, times=10):
    sizes = []
    for _ in range(times):
        os.write(fd, key)
        sizes.append(len(read_until_quiet(fd)))
    return sum(sizes) / len(sizes), max(sizes)


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def main():
    started = time.monotonic()
    pid, fd = spawn()
    frame_s, frame_bytes = first_frame(fd, started)
    read_until_quiet(fd)
    # Arrow keys in the Overview's list of paths.
    arrow_avg, arrow_max = per_key(fd, DOWN, times=9)
    # Back to the suggested path, then into a text field: Edge CA, Upstream, Proxy: set, URL.
    os.write(fd, b"\x1b[A" * 9 + b"\r\r\r" + RIGHT + b"\t")
    read_until_quiet(fd)
    char_avg, char_max = per_key(fd, b"a", times=10)
    rss = peak_rss_kib(pid)
    hup_started = time.monotonic()
    os.kill(pid, signal.SIGHUP)
    while True:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - hup_started > 10:
            os.kill(pid, signal.SIGKILL)
            raise SystemExit("still running 10 s after SIGHUP")
        read_until_quiet(fd, quiet=0.01, limit=0.02)
    gone_s = time.monotonic() - hup_started
    print(f"first frame:            {frame_s * 1000:7.1f} ms  ({frame_bytes} bytes)   target < 50 ms")
    print(f"arrow key in a list:    {arrow_avg:7.1f} bytes avg, {arrow_max} max   target <= 50")
    print(f"character in a field:   {char_avg:7.1f} bytes avg, {char_max} max")
    print(f"peak RSS:               {rss:7d} KiB              target < 8192")
    print(f"gone after SIGHUP:      {gone_s * 1000:7.1f} ms              target < 2000 ms")


if __name__ == "__main__":
    main()
