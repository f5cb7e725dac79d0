#!/usr/bin/env python3
"""The face-swap models of include/hourglass/swap/architectures.hpp ('original' and 'dfl-h128') in PyTorch,
layer for layer, as the peer of our training-step benchmark.

What matches ours (include/hourglass/layers/):
  - conv2d<F, K, S>: KxK convolution with bias, symmetric zero padding K // 2 (stride 2 halves an even
    size), He-uniform weights U(+-sqrt(6 / fan_in)), fan_in = K*K*C, zero biases;
  - down<F> = conv2d<F, 5, 2> + LeakyReLU(0.1);
  - dense<U>: bias, Glorot-uniform U(+-sqrt(6 / (in + out))), zero biases; flatten and reshape read
    the features in NHWC order as ours do (the [N, C, H, W] tensor is permuted to [N, H, W, C] first),
    so that our weights (conv filters transposed from KRSC to KCRS) would give the same function;
  - upscale<F> = conv2d<4F, 3, 1> with ICNR init (filters k and k % F start identical) + LeakyReLU(0.1)
    + pixel shuffle x2 in TensorFlow's depth-to-space order (include/hourglass/math/pixel_shuffle.hpp):
        out[n, 2h + dy, 2w + dx, c] = in[n, h, w, (dy * 2 + dx) * C + c].
    torch.nn.PixelShuffle reads channel c * 4 + dy * 2 + dx instead, so it is not used;
  - the decoder's last layer: conv2d<C, 5> + sigmoid, C = 3.
Weights are drawn from the same distributions but not with our Philox streams, so values differ.

FLOPs are counted like include/hourglass/layers/flops.hpp: 2 * N * OH * OW * K * C * R * S per conv,
2 * N * in * out per dense layer, elementwise layers not counted; a training step is 3x the forward.

Run it to print the parameter and FLOP counts and to check them (and the depth-to-space order):
    python3 bench/peers/models.py
"""
import argparse
import math
import sys

import torch
from torch import nn

LEAKY_SLOPE = 0.1

# Parameter counts of our models with 3 output channels (include/hourglass/swap/architectures.hpp), as
# swap_model::parameter_count() gives them (biases included).
EXPECTED_PARAMETERS = {"original": 82_062_470, "dfl-h128": 107_716_102}
# Forward FLOPs per sample (encoder, decoder) as hg::forward_flops counts them for our models.
EXPECTED_FORWARD_FLOPS = {"original": (1_949_040_640, 1_851_260_928), "dfl-h128": (6_420_430_848, 24_473_763_840)}


def depth_to_space_tf(x):
    """Pixel shuffle x2 in TensorFlow's depth-to-space order on an [N, 4C, H, W] tensor: [N, C, 2H, 2W],
    out[n, c, 2h + dy, 2w + dx] = x[n, (dy * 2 + dx) * C + c, h, w]."""
    n, c4, h, w = x.shape
    c = c4 // 4
    # channel index (dy * 2 + dx) * C + c  ->  axes (dy, dx, c); then interleave dy with h, dx with w.
    return x.reshape(n, 2, 2, c, h, w).permute(0, 3, 4, 1, 5, 2).reshape(n, c, 2 * h, 2 * w)


class DepthToSpace(nn.Module):
    def forward(self, x):
        return depth_to_space_tf(x)


class FlattenNHWC(nn.Module):
    """Our flatten: the features of one sample in H, W, C order."""

    def forward(self, x):
        return x.permute(0, 2, 3, 1).flatten(1)


class ReshapeNHWC(nn.Module):
    """Our reshape<H, W, C>: the features read as [H, W, C], returned as [N, C, H, W]."""

    def __init__(self, h, w, c):
        super().__init__()
        self.h, self.w, self.c = h, w, c

    def forward(self, x):
        return x.reshape(x.shape[0], self.h, self.w, self.c).permute(0, 3, 1, 2)


def conv(cin, cout, kernel, stride=1, icnr=False):
    """conv2d<cout, kernel, stride>: padding kernel // 2, He-uniform (or ICNR) weights, zero bias."""
    layer = nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=True)
    limit = math.sqrt(6.0 / (kernel * kernel * cin))
    with torch.no_grad():
        if icnr:
            f = cout // 4
            base = torch.empty(f, cin, kernel, kernel).uniform_(-limit, limit)
            # filter k copies filter k % f, so each sub-pixel group (dy * 2 + dx) * f + c starts identical
            layer.weight.copy_(base.repeat(4, 1, 1, 1))
        else:
            layer.weight.uniform_(-limit, limit)
        layer.bias.zero_()
    return layer


def dense(fin, fout):
    layer = nn.Linear(fin, fout, bias=True)
    limit = math.sqrt(6.0 / (fin + fout))
    with torch.no_grad():
        layer.weight.uniform_(-limit, limit)
        layer.bias.zero_()
    return layer


def down(cin, cout):
    return [conv(cin, cout, 5, 2), nn.LeakyReLU(LEAKY_SLOPE)]


def upscale(cin, filters):
    return [conv(cin, 4 * filters, 3, 1, icnr=True), nn.LeakyReLU(LEAKY_SLOPE), DepthToSpace()]


class Architecture:
    """One face-swap architecture: sizes and the builders of its encoder and decoder."""

    def __init__(self, name, size, widths, dense_units, bottleneck, encoder_up, decoder_up):
        self.name = name
        self.input = self.output = size
        self.widths = widths              # the four down blocks
        self.dense_units = dense_units    # the first dense layer
        self.bottleneck = bottleneck      # (h, w, c) of the reshape after the second dense layer
        self.encoder_up = encoder_up      # the encoder's upscale block
        self.decoder_up = decoder_up      # the decoder's upscale blocks

    def encoder(self):
        layers, c = [], 3
        for f in self.widths:
            layers += down(c, f)
            c = f
        side = self.input // 2 ** len(self.widths)
        h, w, cb = self.bottleneck
        layers += [FlattenNHWC(), dense(side * side * c, self.dense_units), dense(self.dense_units, h * w * cb),
                   ReshapeNHWC(h, w, cb)]
        layers += upscale(cb, self.encoder_up)
        return nn.Sequential(*layers)

    def decoder(self, channels=3):
        layers, c = [], self.encoder_up
        for f in self.decoder_up:
            layers += upscale(c, f)
            c = f
        layers += [conv(c, channels, 5, 1), nn.Sigmoid()]
        return nn.Sequential(*layers)


ARCHITECTURES = {
    # encoder = down<128>, down<256>, down<512>, down<1024>, flatten, dense<1024>, dense<4*4*1024>,
    #           reshape<4, 4, 1024>, upscale<512>; decoder = upscale<256>, upscale<128>, upscale<64>, conv2d<C, 5>
    "original": Architecture("original", 64, (128, 256, 512, 1024), 1024, (4, 4, 1024), 512, (256, 128, 64)),
    # encoder = the same down blocks at 128 px, dense<512>, dense<8*8*512>, reshape<8, 8, 512>, upscale<512>;
    # decoder = upscale<512>, upscale<256>, upscale<128>, conv2d<C, 5>
    "dfl-h128": Architecture("dfl-h128", 128, (128, 256, 512, 1024), 512, (8, 8, 512), 512, (512, 256, 128)),
}


class SwapModel(nn.Module):
    """One shared encoder and the decoders of identity A and identity B (include/hourglass/swap/swap_model.hpp)."""

    def __init__(self, architecture, channels=3):
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ValueError("unknown architecture '%s' (%s)" % (architecture, ", ".join(ARCHITECTURES)))
        self.arch = ARCHITECTURES[architecture]
        self.encoder = self.arch.encoder()
        self.decoder_a = self.arch.decoder(channels)
        self.decoder_b = self.arch.decoder(channels)

    def forward(self, x, side):
        return (self.decoder_a if side == 0 else self.decoder_b)(self.encoder(x))


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


def forward_flops_per_sample(net, input_shape):
    """Forward FLOPs of one sample through `net` ([C, H, W] in), counted as flops.hpp counts them."""
    total = 0.0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k, c, r, s = module.weight.shape
            total += 2.0 * output.shape[2] * output.shape[3] * k * c * r * s
        elif isinstance(module, nn.Linear):
            total += 2.0 * module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            p = next(net.parameters())
            out = net(torch.zeros(1, *input_shape, device=p.device, dtype=p.dtype))
    finally:
        for h in handles:
            h.remove()
    return total, tuple(out.shape[1:])


def iteration_flops(model, batch):
    """FLOPs of one training iteration (both sides, `batch` samples each): 3x the forward FLOPs."""
    size = model.arch.input
    enc, enc_out = forward_flops_per_sample(model.encoder, (3, size, size))
    dec, _ = forward_flops_per_sample(model.decoder_a, enc_out)
    return 3.0 * 2 * batch * (enc + dec)


def check_depth_to_space():
    """The TF-order pixel shuffle against the index map of include/hourglass/math/pixel_shuffle.hpp
    (depth_to_space_source, on NHWC flat indices), element by element on a small tensor."""
    n, h, w, c = 2, 3, 4, 5
    x_nhwc = torch.arange(n * h * w * 4 * c, dtype=torch.float64).reshape(n, h, w, 4 * c)
    y_nhwc = depth_to_space_tf(x_nhwc.permute(0, 3, 1, 2)).permute(0, 2, 3, 1).reshape(-1)
    flat_in = x_nhwc.reshape(-1)
    out_h, out_w, out_c = 2 * h, 2 * w, c
    for o in range(y_nhwc.numel()):
        cc = o % out_c
        rest = o // out_c
        xx = rest % out_w
        rest //= out_w
        yy = rest % out_h
        nn_ = rest // out_h
        sub = (yy % 2) * 2 + (xx % 2)
        src = ((nn_ * h + yy // 2) * w + xx // 2) * (4 * c) + sub * out_c + cc
        if y_nhwc[o] != flat_in[src]:
            raise AssertionError("depth_to_space_tf: output %d reads input %d, expected %d"
                                 % (o, int(y_nhwc[o]), src))
    # and it is not torch's own channel order
    if torch.equal(depth_to_space_tf(x_nhwc.permute(0, 3, 1, 2)), nn.PixelShuffle(2)(x_nhwc.permute(0, 3, 1, 2))):
        raise AssertionError("depth_to_space_tf equals nn.PixelShuffle: the order check cannot tell them apart")


def check_icnr():
    """ICNR: after the TF-order shuffle of a constant-per-pixel input, the 4 sub-pixels are equal."""
    layer = conv(6, 4 * 3, 3, 1, icnr=True)
    y = depth_to_space_tf(layer(torch.rand(1, 6, 5, 5)))
    for dy in range(2):
        for dx in range(2):
            if not torch.allclose(y[:, :, dy::2, dx::2], y[:, :, 0::2, 0::2]):
                raise AssertionError("ICNR: the sub-pixel (%d, %d) differs from (0, 0)" % (dy, dx))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=sorted(ARCHITECTURES), action="append",
                    help="architecture (repeatable; default: all)")
    args = ap.parse_args()
    check_depth_to_space()
    check_icnr()
    print("depth_to_space_tf: matches include/hourglass/math/pixel_shuffle.hpp's index map")
    print("ICNR init: the 4 sub-pixels of every upscale start identical")
    ok = True
    for name in args.model or list(ARCHITECTURES):
        torch.manual_seed(0)
        m = SwapModel(name)
        count = parameter_count(m)
        expected = EXPECTED_PARAMETERS[name]
        size = m.arch.input
        enc, enc_out = forward_flops_per_sample(m.encoder, (3, size, size))
        dec, out = forward_flops_per_sample(m.decoder_a, enc_out)
        status = "matches ours" if count == expected else "DIFFERS from ours (%d)" % expected
        flops_match = (int(enc), int(dec)) == EXPECTED_FORWARD_FLOPS[name]
        status += ", FLOPs match ours" if flops_match else ", FLOPs DIFFER from ours %s" % (EXPECTED_FORWARD_FLOPS[name],)
        ok = ok and count == expected and flops_match
        print("%-9s %d px -> %s: %d parameters (%s); forward %.3f GFLOP/sample (encoder %.3f, decoder %.3f); "
              "training iteration at batch 16 per side: %.1f GFLOP"
              % (name, size, "x".join(map(str, out)), count, status, (enc + dec) * 1e-9, enc * 1e-9, dec * 1e-9,
                 iteration_flops(m, 16) * 1e-9))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
