#!/usr/bin/env python3
"""Reference values for the SSIM family tests (tests/cpu/test_losses_ssim.cpp).

Writes tests/data/ssim_reference.txt: deterministic image pairs (plain-text floats) and
  - SSIM 'valid' from skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=1, channel_axis=-1), i.e. the mean of the SSIM map over
    the positions where the 11x11 window fits (skimage filters with mode 'reflect' and then crops
    (win_size - 1) // 2 = 5 pixels from each border before the mean);
  - SSIM 'same': the mean of skimage's full map (full=True), whose borders use scipy's 'reflect'
    padding (half-sample symmetric: d c b a | a b c d);
  - MS-SSIM following tf.image.ssim_multiscale / faceswap's MSSIMLoss, computed here in numpy
    (skimage has no MS-SSIM): 5 scales, power factors (0.0448, 0.2856, 0.3001, 0.2363, 0.1333),
    Gaussian window of size min(11, min(H, W) // 16) and sigma 1.5 ('valid' filtering), 2x2 average
    pooling between scales (odd sizes padded by repeating the last row/column), relu on the
    contrast-structure terms of scales 1-4 and on the full SSIM of scale 5, product of
    term^weight per image and channel, mean over channels and batch.
The single-scale part of the MS-SSIM code is checked against skimage before anything is written.
File format: lines "pair NAME N H W C", then "x" and "y" lines with N*H*W*C floats (NHWC order), then
"ssim_valid V", "ssim_same V", "ms_ssim V" (ms_ssim only where the image is large enough).
"""
import os
import sys

import numpy as np
from skimage.metrics import structural_similarity

K1, K2 = 0.01, 0.03
C1, C2 = K1 ** 2, K2 ** 2
WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def gaussian_taps(size, sigma=1.5):
    k = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-k * k / (2.0 * sigma * sigma))
    return g / g.sum()


def filter_valid(plane, g):
    """Separable 'valid' correlation of a 2-D plane with the 1-D taps g (both directions)."""
    f = len(g)
    h, w = plane.shape
    tmp = np.zeros((h, w - f + 1))
    for k in range(f):
        tmp += g[k] * plane[:, k:k + w - f + 1]
    out = np.zeros((h - f + 1, w - f + 1))
    for k in range(f):
        out += g[k] * tmp[k:k + h - f + 1, :]
    return out


def ssim_cs_valid(x, y, size):
    """Per-channel mean SSIM and mean contrast-structure over the valid positions of one image."""
    g = gaussian_taps(size)
    ssim, cs = [], []
    for c in range(x.shape[-1]):
        a, b = x[..., c], y[..., c]
        mx, my = filter_valid(a, g), filter_valid(b, g)
        exx, eyy, exy = filter_valid(a * a, g), filter_valid(b * b, g), filter_valid(a * b, g)
        sxx, syy, sxy = exx - mx * mx, eyy - my * my, exy - mx * my
        lum = (2 * mx * my + C1) / (mx * mx + my * my + C1)
        con = (2 * sxy + C2) / (sxx + syy + C2)
        ssim.append(np.mean(lum * con))
        cs.append(np.mean(con))
    return np.array(ssim), np.array(cs)


def pool2(img):
    """2x2 average pooling; an odd size is padded by repeating its last row/column."""
    h, w, _ = img.shape
    if h % 2:
        img = np.concatenate([img, img[-1:, :, :]], axis=0)
    if w % 2:
        img = np.concatenate([img, img[:, -1:, :]], axis=1)
    return 0.25 * (img[0::2, 0::2] + img[1::2, 0::2] + img[0::2, 1::2] + img[1::2, 1::2])


def ms_ssim(x, y):
    """MS-SSIM of NHWC batches (mean over batch and channels)."""
    size = min(11, min(x.shape[1], x.shape[2]) // 16)
    values = []
    for n in range(x.shape[0]):
        a, b = x[n], y[n]
        prod = np.ones(x.shape[-1])
        for s, w in enumerate(WEIGHTS):
            if s > 0:
                a, b = pool2(a), pool2(b)
            ssim, cs = ssim_cs_valid(a, b, size)
            term = ssim if s == len(WEIGHTS) - 1 else cs
            prod *= np.maximum(term, 0.0) ** w
        values.append(prod.mean())
    return float(np.mean(values))


def skimage_ssim(x, y, full=False):
    total = 0.0
    for n in range(x.shape[0]):
        r = structural_similarity(x[n], y[n], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                  data_range=1.0, channel_axis=-1, full=full)
        total += float(np.mean(r[1])) if full else float(r)
    return total / x.shape[0]


def make_pair(rng, shape, kind):
    """Smooth-ish base image plus a distortion, both clipped to [0, 1] and rounded to float32."""
    n, h, w, c = shape
    yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    base = np.empty(shape)
    for i in range(n):
        for ch in range(c):
            f1, f2, ph = rng.uniform(1, 4), rng.uniform(1, 4), rng.uniform(0, 6.28)
            base[i, :, :, ch] = 0.5 + 0.3 * np.sin(f1 * 6.28 * xx + ph) * np.cos(f2 * 6.28 * yy)
    base += 0.1 * rng.standard_normal(shape)
    if kind == "noise":
        other = base + 0.15 * rng.standard_normal(shape)
    elif kind == "shift":
        other = 0.8 * np.roll(base, 1, axis=2) + 0.15
    else:  # independent
        other = rng.uniform(0, 1, shape)
    x = np.clip(base, 0, 1).astype(np.float32).astype(np.float64)
    y = np.clip(other, 0, 1).astype(np.float32).astype(np.float64)
    return x, y


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ssim_reference.txt")
    rng = np.random.default_rng(20041)
    pairs = [("noise", (1, 24, 28, 3), "noise"), ("shift", (1, 24, 28, 3), "shift"),
             ("independent", (1, 24, 28, 3), "independent"), ("gray_noise", (2, 17, 21, 1), "noise"),
             ("odd_noise", (1, 37, 41, 2), "noise"), ("large_shift", (1, 64, 64, 3), "shift")]
    lines = ["# Generated by tests/data/make_ssim_reference.py with scikit-image " +
             __import__("skimage").__version__ + "; do not edit."]
    for name, shape, kind in pairs:
        x, y = make_pair(rng, shape, kind)
        valid = skimage_ssim(x, y)
        same = skimage_ssim(x, y, full=True)
        # The single-scale numpy code used for MS-SSIM must agree with skimage.
        mine = np.mean([ssim_cs_valid(x[n], y[n], 11)[0].mean() for n in range(shape[0])])
        if abs(mine - valid) > 1e-12:
            sys.exit(f"numpy SSIM {mine} disagrees with skimage {valid} for {name}")
        lines.append(f"pair {name} " + " ".join(str(d) for d in shape))
        lines.append("x " + " ".join(f"{v:.9g}" for v in x.ravel()))
        lines.append("y " + " ".join(f"{v:.9g}" for v in y.ravel()))
        lines.append(f"ssim_valid {valid:.17g}")
        lines.append(f"ssim_same {same:.17g}")
        if min(shape[1], shape[2]) >= 32:
            lines.append(f"ms_ssim {ms_ssim(x, y):.17g}")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
