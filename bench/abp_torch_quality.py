#!/usr/bin/python3
"""The PyTorch peer of bench/time-to-quality.sh: ABP training on digits, with the test
reconstruction error along the way.

A copy of ../shared/bench/peer/abp_torch.py (read-only there) extended to what the time-to-
quality comparison needs: real training digits (an IDX file, pixels scaled to [-1, 1]),
abp train's batches (a new random permutation of the examples every epoch, consecutive
batches of it), and every --eval-every iterations the reconstruction error of unseen test
digits computed as `abp reconstruct` does it: generator in evaluation mode (batch norm with
its running statistics), z from N(0, I), --eval-steps Langevin steps of size 0.05 with
sigma 0.3, mean squared error per pixel on the [0, 1] pixel scale. The model, the ABP
iteration (L Langevin steps of size 0.1 on persistent latents, sigma 0.3, then one Adam step
on the sum of squared errors / (2 sigma^2) / batch) and Adam's settings are the peer's; the
initial weights are abp's (N(0, 0.02^2), biases 0).

Only the training is timed: the clock stops during evaluations. Prints one line per
evaluation, `eval ITERATION SECONDS MSE`, then `name value` lines.
"""
import argparse, struct, time
import torch
import torch.nn as nn


def generator(d):
    """mnist28 of the peer (and of abp's built-in model): d -> 7x7x128 -> 14x14x64 -> 28x28x1."""
    return nn.Sequential(
        nn.Linear(d, 7 * 7 * 128), nn.Unflatten(1, (128, 7, 7)), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
        nn.ConvTranspose2d(128, 64, 5, 2, 2, 1), nn.BatchNorm2d(64), nn.LeakyReLU(0.2),
        nn.ConvTranspose2d(64, 1, 5, 2, 2, 1), nn.Tanh())


def read_idx(path, limit):
    with open(path, "rb") as f:
        magic, n, h, w = struct.unpack(">IIII", f.read(16))
        if magic != 2051:
            raise SystemExit(f"{path}: not an IDX image file")
        n = min(n, limit) if limit else n
        raw = torch.frombuffer(bytearray(f.read(n * h * w)), dtype=torch.uint8)
    return raw.view(n, 1, h, w).float() / 127.5 - 1.0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--limit", type=int, default=2000)
    p.add_argument("--test-n", type=int, default=100)
    p.add_argument("--latent-dim", type=int, default=30)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--langevin-steps", type=int, default=10)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--iters", type=int, default=200)
    p.add_argument("--eval-every", type=int, default=20)
    p.add_argument("--eval-steps", type=int, default=100)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    d = a.latent_dim
    g = generator(d)
    # abp's initialisation (DCGAN's): weights N(0, 0.02^2), biases 0, batch norm 1 and 0.
    # PyTorch's default (Kaiming-uniform) learns at another speed; the comparison is of the
    # same algorithm.
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, (nn.Linear, nn.ConvTranspose2d)):
                m.weight.normal_(0.0, 0.02)
                m.bias.zero_()
    sigma, s = 0.3, 0.1
    data = read_idx(a.train, a.limit)
    test = read_idx(a.test, a.test_n)
    n = data.shape[0]
    latents = torch.randn(n, d)
    opt = torch.optim.Adam(g.parameters(), lr=a.lr, betas=(0.5, 0.999))

    def langevin_step(z, x, step):
        z = z.detach().requires_grad_(True)
        energy = ((x - g(z)) ** 2).sum() / (2 * sigma ** 2) + (z ** 2).sum() / 2
        (gz,) = torch.autograd.grad(energy, z)
        return (z - step * step / 2 * gz + step * torch.randn_like(z)).detach()

    def test_mse():
        g.eval()
        z = torch.randn(test.shape[0], d)
        for _ in range(a.eval_steps):
            z = langevin_step(z, test, 0.05)
        with torch.no_grad():
            err = ((test - g(z)) ** 2).mean().item() / 4.0  # [-1, 1] -> [0, 1] scale
        g.train()
        return err

    trained, perm, pos = 0.0, torch.randperm(n), 0
    for it in range(1, a.iters + 1):
        t0 = time.perf_counter()
        if pos + a.batch > n:
            perm, pos = torch.randperm(n), 0
        idx = perm[pos:pos + a.batch]
        pos += a.batch
        x, z = data[idx], latents[idx]
        for _ in range(a.langevin_steps):
            z = langevin_step(z, x, s)
        opt.zero_grad(set_to_none=True)
        loss = ((x - g(z)) ** 2).sum() / (2 * sigma ** 2) / a.batch
        loss.backward()
        opt.step()
        latents[idx] = z
        trained += time.perf_counter() - t0
        if it % a.eval_every == 0 or it == a.iters:
            print(f"eval {it} {trained:.3f} {test_mse():.6f}", flush=True)
    print(f"torch {torch.__version__}\nthreads {a.threads}\nseconds_training {trained:.3f}")


if __name__ == "__main__":
    main()
