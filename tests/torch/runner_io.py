"""runner_io.py - reading what a tests/torch C runner wrote (the Python side of runner_io.h).

Results are little-endian u32/i32/i64/u64/f64 fields and u32-length-prefixed strings, read in
order from one bytes object; a record cut short (a runner that crashed mid-case) raises EOFError,
so each script's read_results keeps the complete records before it.
"""
import struct


class Reader:
    def __init__(self, data):
        self.d, self.p = data, 0

    def take(self, n):
        if self.p + n > len(self.d):
            raise EOFError
        r = self.d[self.p:self.p + n]
        self.p += n
        return r

    def u32(self): return struct.unpack("<I", self.take(4))[0]
    def i32(self): return struct.unpack("<i", self.take(4))[0]
    def i64(self): return struct.unpack("<q", self.take(8))[0]
    def u64(self): return struct.unpack("<Q", self.take(8))[0]
    def f64(self): return struct.unpack("<d", self.take(8))[0]
    def qs(self, n): return list(struct.unpack("<%dq" % n, self.take(8 * n)))
    def s(self): return self.take(self.u32()).decode("utf-8", "replace")
