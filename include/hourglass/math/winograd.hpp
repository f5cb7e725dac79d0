// Winograd minimal filtering F(m x m, 3 x 3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016): an m x m block of a 3x3 correlation is computed from an alpha x alpha input tile
// (alpha = m + 2) with alpha^2 products per channel pair instead of 9 m^2:
//   Y = A^T [ (G g G^T) (.) (B^T d B) ] A          (. = element-wise product)
// where g is the 3x3 filter, d the input tile and Y the m x m output block. Summed over input
// channels, the element-wise product becomes alpha^2 independent matrix products (one per tile
// position xi, nu), which is where the saving lies: 16 products instead of 36 for m = 2 (2.25x),
// 36 instead of 144 for m = 4 (4x).
//
// The matrices below use the interpolation points {0, 1, -1, inf} (m = 2) and {0, 1, -1, 2, -2, inf}
// (m = 4). Larger m saves more but loses accuracy (the m = 4 transforms have entries up to 8 and
// 1/24); docs/numerics.md has the measured error of both against the direct sum.
//
// The gradients follow from the forward being linear in g and in d (adjoints of the same matrices):
//   dL/dg = sum over tiles of G^T [ (A dY A^T) (.) (B^T d B) ] G   (backward-filter)
// and backward-data is the forward correlation of dY with the filter rotated by 180 degrees and its
// channel axes swapped.
#pragma once

namespace hg::math {

template <int M>
struct winograd_f3;

template <>
struct winograd_f3<2> {
    static constexpr int m = 2, r = 3, alpha = 4;
    static constexpr double bt[alpha][alpha] = {
        {1, 0, -1, 0},
        {0, 1, 1, 0},
        {0, -1, 1, 0},
        {0, 1, 0, -1},
    };
    static constexpr double g[alpha][r] = {
        {1, 0, 0},
        {0.5, 0.5, 0.5},
        {0.5, -0.5, 0.5},
        {0, 0, 1},
    };
    static constexpr double at[m][alpha] = {
        {1, 1, 1, 0},
        {0, 1, -1, -1},
    };
};

template <>
struct winograd_f3<4> {
    static constexpr int m = 4, r = 3, alpha = 6;
    static constexpr double bt[alpha][alpha] = {
        {4, 0, -5, 0, 1, 0},
        {0, -4, -4, 1, 1, 0},
        {0, 4, -4, -1, 1, 0},
        {0, -2, -1, 2, 1, 0},
        {0, 2, -1, -2, 1, 0},
        {0, 4, 0, -5, 0, 1},
    };
    static constexpr double g[alpha][r] = {
        {1.0 / 4, 0, 0},
        {-1.0 / 6, -1.0 / 6, -1.0 / 6},
        {-1.0 / 6, 1.0 / 6, -1.0 / 6},
        {1.0 / 24, 1.0 / 12, 1.0 / 6},
        {1.0 / 24, -1.0 / 12, 1.0 / 6},
        {0, 0, 1},
    };
    static constexpr double at[m][alpha] = {
        {1, 1, 1, 1, 1, 0},
        {0, 1, -1, 2, -2, 0},
        {0, 1, 1, 4, 4, 0},
        {0, 1, -1, 8, -8, 1},
    };
};

}  // namespace hg::math
