"""The live progress line of a running job, on stderr when it is a terminal.

_native.execute calls the Progress object about ten times a second with a
dict (phase, elapsed, rows_in, rows_out, worker_rows, and where the
extension has them bytes_in, bytes_total, setup_seconds, workers); the
line is redrawn in place and replaced by a summary line at the end. When
stderr is not a terminal nothing is shown.
"""

import collections
import shutil
import sys


def _n(x):
    return "{:,}".format(int(x))


def _short(x):
    """1,234 / 12.3k / 4.3M: a count or rate in a few characters."""
    x = float(x)
    if x < 10000:
        return _n(x)
    if x < 1e6:
        return "%.1fk" % (x / 1e3) if x < 1e5 else "%dk" % (x / 1e3)
    return "%.1fM" % (x / 1e6) if x < 1e8 else "%dM" % (x / 1e6)


def _secs(s):
    if s < 60:
        return "%.1fs" % s
    m, s = divmod(int(s), 60)
    return "%dm%02ds" % (m, s) if m < 60 else "%dh%02dm" % divmod(m, 60)


class Progress(object):
    """Callable progress display (see the module doc)."""

    def __init__(self, stream):
        self.stream = stream
        self.samples = collections.deque()  # (elapsed, rows_in) of the last seconds
        self.shown = ""
        self.last = {}

    @classmethod
    def for_stderr(cls):
        """A Progress on sys.stderr if it is a terminal, else None."""
        s = sys.stderr
        try:
            if s is None or not s.isatty():
                return None
        except (AttributeError, ValueError, OSError):
            return None
        return cls(s)

    def _rate(self, elapsed, rows):
        self.samples.append((elapsed, rows))
        while len(self.samples) > 2 and elapsed - self.samples[0][0] > 2.0:
            self.samples.popleft()
        t0, r0 = self.samples[0]
        return (rows - r0) / (elapsed - t0) if elapsed - t0 >= 0.2 else None

    def parts(self, d, rate=None):
        """The pieces of the line for progress dict d (rate: recent rows/s), most important first."""
        phase = d.get("phase", "running")
        elapsed = float(d.get("elapsed", 0.0))
        rows_in, rows_out = d.get("rows_in", 0), d.get("rows_out", 0)
        parts = ["udfenv: %s %s" % (phase, _secs(elapsed))]
        if phase in ("setup", "starting") and not rows_in:
            return parts
        total, done = d.get("bytes_total") or 0, d.get("bytes_in") or 0
        pct = " (%d%%)" % min(100, 100 * done // total) if total else ""
        parts.append("in %s rows%s" % (_n(rows_in), pct))
        parts.append("out %s" % _n(rows_out))
        if rate is not None:
            parts.append("%s rows/s" % _short(rate))
        per = list(d.get("worker_rows") or ())
        if len(per) > 1:
            if len(per) <= 8:
                parts.append("workers " + " ".join(_short(x) for x in per))
            else:
                parts.append("%d workers %s..%s" % (len(per), _short(min(per)), _short(max(per))))
        return parts

    def line(self, d, width=None, rate=None):
        """The line for progress dict d: as many parts as fit in width."""
        parts = self.parts(d, rate)
        text = parts[0]
        for p in parts[1:]:
            if width is not None and len(text) + 2 + len(p) > width:
                break
            text += "  " + p
        return text

    def __call__(self, d):
        self.last = d
        try:
            width = shutil.get_terminal_size((80, 24)).columns - 1
        except (OSError, ValueError):
            width = 79
        rate = None
        if d.get("phase") not in ("setup", "starting"):
            rate = self._rate(float(d.get("elapsed", 0.0)), d.get("rows_in", 0))
        text = self.line(d, max(width, 20), rate)
        if text != self.shown:
            self._write("\r" + text + "\x1b[K")
            self.shown = text

    def _write(self, s):
        try:
            self.stream.write(s)
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def abort(self):
        """Clear the line (the job failed or was interrupted)."""
        if self.shown:
            self._write("\r\x1b[K")
            self.shown = ""

    def finish(self, stats):
        """Replace the line with a summary."""
        stats = stats or {}
        secs = float(stats.get("seconds", self.last.get("elapsed", 0.0)))
        rows_in, rows_out = stats.get("rows_in", 0), stats.get("rows_out", 0)
        extra = []
        if (stats.get("setup_seconds") or 0) >= 0.05:
            extra.append("setup %s" % _secs(stats["setup_seconds"]))
        if stats.get("workers"):
            extra.append("%d worker%s" % (stats["workers"], "" if stats["workers"] == 1 else "s"))
        run = secs - float(stats.get("setup_seconds") or 0.0)
        if run > 0 and rows_in:
            extra.append("%s rows/s" % _n(rows_in / run))
        self.abort()
        self._write("udfenv: done: %s rows in, %s rows out in %s%s\n"
                    % (_n(rows_in), _n(rows_out), _secs(secs), " (%s)" % ", ".join(extra) if extra else ""))
