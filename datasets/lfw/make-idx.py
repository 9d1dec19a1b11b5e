#!/usr/bin/python3
"""Writes the 100 faces of scikit-image's lfw_subset.npy (rows 0-99; rows 100-199 are
non-faces) as one IDX image file, the MNIST format abp reads: 25x25 grey, uint8.
Usage (from the repository root): /usr/bin/python3 datasets/lfw/make-idx.py"""
import os
import struct
import numpy as np

SOURCE = "/usr/lib/python3/dist-packages/skimage/data/lfw_subset.npy"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "faces-25x25-idx3-ubyte")

faces = np.load(SOURCE)[:100]               # float64 in [0, 1], (100, 25, 25)
assert faces.shape == (100, 25, 25), faces.shape
pixels = np.clip(np.rint(faces * 255.0), 0, 255).astype(np.uint8)
with open(OUT + ".tmp", "wb") as f:
    f.write(struct.pack(">IIII", 0x00000803, *pixels.shape))   # IDX header, big-endian
    f.write(pixels.tobytes())
os.replace(OUT + ".tmp", OUT)
print(OUT, pixels.shape, os.path.getsize(OUT), "bytes")
