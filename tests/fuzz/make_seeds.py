#!/usr/bin/env python3
"""Writes the fuzzing seeds of the data readers into tests/fuzz/seeds/{idx,npy,csv}/ (committed;
rerun after changing this script): small IDX files (raw and gzip, every element type), .npy files
written by numpy (every dtype, C and Fortran order, format versions 1-3), .npz (stored and
deflated) and CSV text. The checkpoint reader's seeds (seeds/load/) are the torch samples.
    /usr/bin/python3 tests/fuzz/make_seeds.py"""
import gzip, io, os, struct
import numpy as np

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")
def w(sub, name, data):
    with open(os.path.join(HERE, sub, name), "wb") as f:
        f.write(data)

rng = np.random.default_rng(0)
for code, dt in ((0x08, ">u1"), (0x09, ">i1"), (0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"), (0x0E, ">f8")):
    a = (rng.random((3, 4, 5)) * 100).astype(dt)
    raw = bytes([0, 0, code, 3]) + struct.pack(">III", 3, 4, 5) + a.tobytes()
    w("idx", "t%02x.idx" % code, raw)
    w("idx", "t%02x.idx.gz" % code, gzip.compress(raw, 6, mtime=0))
labels = np.array([3, 1, 4, 1, 5, 9, 2, 6], dtype=">u1")
w("idx", "labels.idx1.gz", gzip.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", 8) + labels.tobytes(), 9, mtime=0))
for dt in ("<f4", "<f8", "<f2", "<i8", "<i4", "<i2", "|i1", "|u1", "|b1", ">f4", ">i8"):
    a = (rng.random((2, 3)) * 10).astype(dt)
    for order in ("C", "F"):
        b = io.BytesIO(); np.save(b, np.asarray(a, order=order)); w("npy", "a_%s_%s.npy" % (dt.replace("<", "le").replace(">", "be").replace("|", ""), order), b.getvalue())
b = io.BytesIO(); np.lib.format.write_array(b, np.arange(6.0).reshape(2, 3), version=(2, 0)); w("npy", "v2.npy", b.getvalue())
b = io.BytesIO(); np.lib.format.write_array(b, np.arange(4, dtype=np.int32), version=(3, 0)); w("npy", "v3.npy", b.getvalue())
b = io.BytesIO(); np.save(b, np.float32(2.5)); w("npy", "scalar.npy", b.getvalue())
b = io.BytesIO(); np.save(b, np.zeros((0, 3))); w("npy", "empty.npy", b.getvalue())
b = io.BytesIO(); np.savez(b, x=np.arange(3.0), y=np.ones((2, 2), dtype=np.int64)); w("npy", "stored.npz", b.getvalue())
b = io.BytesIO(); np.savez_compressed(b, x=np.arange(10.0)); w("npy", "deflated.npz", b.getvalue())
w("csv", "plain.csv", b"1,2,3\n4,5,6\n")
w("csv", "header.csv", b"a,b\n1.5,-2e3\n3,4\n")
w("csv", "spaces.csv", b" 1 , 2\r\n3,4\r\n")
print("wrote seeds to", HERE)
