"""Checks python/abp_torch.py against abp: for every checkpoint given, PyTorch's g(z) must
equal abp's (tests/tool_generate.c) for the same z, to float tolerance, both for random z
and for the checkpoint's own /latents (which checks the row order load_latents assumes).
    python3 tests/python_torch.py GENERATE_TOOL TMPDIR NAME=CHECKPOINT..."""
import os
import subprocess
import sys
import time

t0 = time.time()
try:
    import torch
except ImportError as e:
    print(f"python_torch: SKIPPED: torch is not importable ({e}); apt-get install python3-torch")
    sys.exit(77)
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
import abp_torch  # noqa: E402

print(f"python_torch: importing torch, h5py and abp_torch took {time.time() - t0:.1f} s")
torch.set_num_threads(1)
tool, tmp = sys.argv[1], sys.argv[2]
failures = 0
for arg in sys.argv[3:]:
    name, ckpt = arg.split("=", 1)
    g = abp_torch.load_generator(ckpt)
    gen = torch.Generator().manual_seed(7)
    for what, z in (("random z", g.sample_latents(3, gen)),
                    ("checkpoint latents", abp_torch.load_latents(ckpt)[:3])):
        zfile, outfile = os.path.join(tmp, f"{name}.z"), os.path.join(tmp, f"{name}.out")
        z.numpy().astype("<f4").tofile(zfile)
        subprocess.run([tool, ckpt, zfile, str(z.shape[0]), outfile], check=True)
        ours = np.fromfile(outfile, dtype="<f4").reshape(z.shape[0], *g.output_shape)
        with torch.no_grad():
            theirs = g(z).numpy()
        diff = float(np.max(np.abs(theirs - ours)))
        spread = float(np.std(ours))
        ok = diff < 1e-4 and theirs.shape == ours.shape and spread > 1e-3
        print(f"{name}: {what}: output {theirs.shape[1:]}, largest |torch - abp| {diff:.2e}, "
              f"sd of the output {spread:.3f} {'ok' if ok else 'FAIL'}")
        failures += not ok
    # Other latents must give another output: the comparison can fail.
    z = abp_torch.load_latents(ckpt)[:1]
    with torch.no_grad():
        if np.max(np.abs(g(z + 1.0).numpy() - g(z).numpy())) < 1e-3:
            print(f"{name}: different latents give the same output: FAIL")
            failures += 1
print(f"python_torch: {len(sys.argv) - 3} models, {failures} failures, {time.time() - t0:.1f} s")
sys.exit(1 if failures else 0)
