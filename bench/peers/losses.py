#!/usr/bin/env python3
"""The training loss of hourglass-swap in PyTorch, for the peer benchmark: faceswap's default SSIM + MSE
applied through the face mask (include/hourglass/losses/{ssim,pointwise,composite,face_mask}.hpp):
    L(p, t)  = (1 - SSIM(p, t)) + mean((p - t)^2)
    value    = L(p * F, t * F) [+ 3 L(p * E, t * E) + 2 L(p * M, t * M) with eye and mouth masks]
SSIM as ours: per channel, 11x11 Gaussian window (sigma 1.5) applied as two 1-D depthwise convolutions,
population statistics, c1 = 0.01^2, c2 = 0.03^2 (data range 1), 'valid' positions only (where the whole
window fits), mean over positions, channels and batch. The backward comes from autograd.

Run it to check the SSIM against tests/data/ssim_reference.txt (scikit-image's values):
    python3 bench/peers/losses.py
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

K1, K2 = 0.01, 0.03
WINDOW, SIGMA = 11, 1.5


def gaussian_taps(size=WINDOW, sigma=SIGMA, dtype=torch.float32, device=None):
    """The normalised 1-D Gaussian (include/hourglass/math/gaussian.hpp)."""
    k = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    g = torch.exp(-k * k / (2.0 * sigma * sigma))
    return (g / g.sum()).to(dtype=dtype, device=device)


class SSIM(torch.nn.Module):
    """Mean SSIM of [N, C, H, W] images in [0, 1], 'valid' form."""

    def __init__(self, window=WINDOW, sigma=SIGMA):
        super().__init__()
        self.window, self.sigma = window, sigma
        # float32 taps as buffers (they follow .to(device)); other dtypes get taps cast from float64 at use
        g = gaussian_taps(window, sigma, dtype=torch.float64).float()
        self.register_buffer("g_row", g.reshape(1, 1, 1, window), persistent=False)
        self.register_buffer("g_col", g.reshape(1, 1, window, 1), persistent=False)

    def blur(self, x):
        """Separable 'valid' Gaussian filter of every channel of x."""
        c = x.shape[1]
        if x.dtype == self.g_row.dtype:
            g_row, g_col = self.g_row, self.g_col
        else:
            g = gaussian_taps(self.window, self.sigma, dtype=torch.float64).to(dtype=x.dtype, device=x.device)
            g_row, g_col = g.reshape(1, 1, 1, self.window), g.reshape(1, 1, self.window, 1)
        return F.conv2d(F.conv2d(x, g_row.expand(c, 1, 1, self.window), groups=c),
                        g_col.expand(c, 1, self.window, 1), groups=c)

    def forward(self, x, y):
        if x.shape[-1] < self.window or x.shape[-2] < self.window:
            raise ValueError("SSIM: images %s are smaller than the %dx%d window"
                             % (tuple(x.shape), self.window, self.window))
        c = x.shape[1]
        # the five statistics of every channel in one depthwise filter pass
        stats = self.blur(torch.cat([x, y, x * x, y * y, x * y], dim=1))
        mx, my, exx, eyy, exy = torch.split(stats, c, dim=1)
        mxx, myy, mxy = mx * mx, my * my, mx * my
        sxx, syy, sxy = exx - mxx, eyy - myy, exy - mxy
        c1, c2 = K1 * K1, K2 * K2
        ssim_map = ((2 * mxy + c1) * (2 * sxy + c2)) / ((mxx + myy + c1) * (sxx + syy + c2))
        return ssim_map.mean()


class FaceSwapLoss(torch.nn.Module):
    """(1 - SSIM) + MSE through the face mask, and the eye (x3) and mouth (x2) terms when their masks
    are given (faceswap adds a section term only for a multiplier above 1, as ours does)."""

    def __init__(self, eye_multiplier=3.0, mouth_multiplier=2.0):
        super().__init__()
        self.ssim = SSIM()
        self.eye_multiplier, self.mouth_multiplier = eye_multiplier, mouth_multiplier

    def term(self, pred, target):
        return (1.0 - self.ssim(pred, target)) + torch.mean((pred - target) ** 2)

    def forward(self, pred, target, face, eye=None, mouth=None):
        value = self.term(pred * face, target * face)
        if eye is not None and self.eye_multiplier > 1.0:
            value = value + self.eye_multiplier * self.term(pred * eye, target * eye)
        if mouth is not None and self.mouth_multiplier > 1.0:
            value = value + self.mouth_multiplier * self.term(pred * mouth, target * mouth)
        return value


def read_ssim_reference(path):
    """The pairs of tests/data/ssim_reference.txt: (name, x, y, ssim_valid) with NHWC float64 arrays."""
    pairs, cur = [], None
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            if parts[0] == "pair":
                n, h, w, c = map(int, parts[2:6])
                cur = {"name": parts[1], "shape": (n, h, w, c)}
                pairs.append(cur)
            elif parts[0] in ("x", "y"):
                # the values are float32 numbers printed with 9 digits: read them back as float32 exactly
                values = torch.tensor([float(v) for v in parts[1:]], dtype=torch.float32).to(torch.float64)
                cur[parts[0]] = values.reshape(cur["shape"])
            elif parts[0] == "ssim_valid":
                cur["ssim_valid"] = float(parts[1])
    return pairs


def check_against_reference(path, tolerance=1e-9):
    """SSIM 'valid' in float64 against scikit-image's value for every pair; returns the worst error."""
    ssim = SSIM()
    worst = 0.0
    for p in read_ssim_reference(path):
        x = p["x"].permute(0, 3, 1, 2)
        y = p["y"].permute(0, 3, 1, 2)
        got = float(ssim(x, y))
        err = abs(got - p["ssim_valid"])
        worst = max(worst, err)
        print("%-12s %s  ssim %.12f  scikit-image %.12f  |diff| %.2e"
              % (p["name"], "x".join(map(str, p["shape"])), got, p["ssim_valid"], err))
        if not math.isfinite(got) or err > tolerance:
            raise AssertionError("SSIM of pair '%s' is %.15g, scikit-image gives %.15g" % (p["name"], got,
                                                                                           p["ssim_valid"]))
    return worst


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "..", "tests", "data", "ssim_reference.txt")
    worst = check_against_reference(path)
    print("SSIM 'valid' matches scikit-image on every pair (largest difference %.2e)" % worst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
