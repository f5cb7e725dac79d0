// The random warp of the augmentation (after faceswap's ImageAugmentation._random_warp): a 5 x 5
// grid of control points spread edge to edge over the image, each displaced by Gaussian noise of
// standard deviation sigma = 5/256 of the image size, the displacement interpolated smoothly to
// every pixel, and the image resampled bilinearly at (x, y) + displacement(x, y).
//
// Control point j of a row sits at x_j = j * W / 4 - 0.5 (pixel centres at integers), as in
// faceswap's grid after its resize-and-crop of the maps. Differences from faceswap, on purpose:
//  - faceswap interpolates the maps with cv2.resize (piecewise bilinear, creased at the control
//    lines) over a grid whose zero-noise map is shifted by half a pixel; here the DISPLACEMENT is
//    interpolated with a Catmull-Rom spline (C1, ends clamped), so zero noise is exactly the
//    identity map and the field has no creases;
//  - samples that fall outside the image replicate the border instead of reading black.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "hourglass/data/transform.hpp"

namespace hg::data {

/// Grid points per side.
inline constexpr int warp_grid = 5;

/// The drawn displacements of the warp's control points in pixels: dx[row][col] and dy[row][col].
struct warp_params {
    std::array<std::array<float, warp_grid>, warp_grid> dx{};
    std::array<std::array<float, warp_grid>, warp_grid> dy{};
};

/// Catmull-Rom weights of the 4 control points (k-1, k, k+1, k+2) around each of `n` pixels along
/// one axis, with the indices clamped to the grid (the end values repeat).
struct warp_axis {
    std::vector<std::array<int, 4>> index;
    std::vector<std::array<float, 4>> weight;

    explicit warp_axis(std::int64_t n) : index(static_cast<std::size_t>(n)), weight(static_cast<std::size_t>(n)) {
        constexpr int cells = warp_grid - 1;
        for (std::int64_t x = 0; x < n; ++x) {
            // Position in grid units: control point j at pixel j * n / cells - 0.5.
            const double u = (static_cast<double>(x) + 0.5) * cells / static_cast<double>(n);
            int k = static_cast<int>(u);
            if (k > cells - 1) k = cells - 1;
            const double t = u - k, t2 = t * t, t3 = t2 * t;
            const double w[4] = {0.5 * (-t3 + 2 * t2 - t), 0.5 * (3 * t3 - 5 * t2 + 2), 0.5 * (-3 * t3 + 4 * t2 + t),
                                 0.5 * (t3 - t2)};
            for (int i = 0; i < 4; ++i) {
                int j = k - 1 + i;
                j = j < 0 ? 0 : (j > cells ? cells : j);
                index[static_cast<std::size_t>(x)][i] = j;
                weight[static_cast<std::size_t>(x)][i] = static_cast<float>(w[i]);
            }
        }
    }
};

/// The per-pixel displacement field of `p` on an h x w image: writes dx and dy (h * w each,
/// row-major). Zero control displacements give exactly zero everywhere.
inline void warp_displacement(const warp_params& p, std::int64_t h, std::int64_t w, const warp_axis& ax,
                              const warp_axis& ay, float* dx, float* dy) {
    for (std::int64_t y = 0; y < h; ++y) {
        // Interpolate down the columns first: one value per grid column for this row.
        float rx[warp_grid] = {}, ry[warp_grid] = {};
        const auto& iy = ay.index[static_cast<std::size_t>(y)];
        const auto& wy = ay.weight[static_cast<std::size_t>(y)];
        for (int j = 0; j < warp_grid; ++j)
            for (int i = 0; i < 4; ++i) {
                rx[j] += wy[i] * p.dx[iy[i]][j];
                ry[j] += wy[i] * p.dy[iy[i]][j];
            }
        for (std::int64_t x = 0; x < w; ++x) {
            const auto& ix = ax.index[static_cast<std::size_t>(x)];
            const auto& wx = ax.weight[static_cast<std::size_t>(x)];
            float sx = 0.0f, sy = 0.0f;
            for (int i = 0; i < 4; ++i) {
                sx += wx[i] * rx[ix[i]];
                sy += wx[i] * ry[ix[i]];
            }
            dx[y * w + x] = sx;
            dy[y * w + x] = sy;
        }
    }
}

/// Resamples `image` ([H, W, C]) at (x, y) + displacement(x, y): bilinear, replicated border.
inline tensor random_warp(const tensor& image, const warp_params& p) {
    detail::require_image(image, "data::random_warp", "image", -1);
    const std::int64_t h = image.shape()[0], w = image.shape()[1], c = image.shape()[2];
    const warp_axis ax(w), ay(h);
    std::vector<float> dx(static_cast<std::size_t>(h * w)), dy(static_cast<std::size_t>(h * w));
    warp_displacement(p, h, w, ax, ay, dx.data(), dy.data());
    tensor out = tensor::empty(image.shape());
    const float* src = image.data();
    float* dst = out.data();
    for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x) {
            const std::int64_t i = y * w + x;
            const auto tap = bilinear_tap::at(static_cast<float>(x) + dx[static_cast<std::size_t>(i)],
                                              static_cast<float>(y) + dy[static_cast<std::size_t>(i)], h, w, c);
            for (std::int64_t ch = 0; ch < c; ++ch) dst[i * c + ch] = tap.sample(src, ch);
        }
    return out;
}

}  // namespace hg::data
