// CUDA copy_channels (ops/channels.hpp) against the CPU op on random inputs: the slice and join of
// channel ranges the mask head of the face-swap decoders uses, odd channel counts and shapes, and a
// size that makes the grid-stride loop go round. Operands are guarded device views (aligned and
// misaligned); the destination starts as NaN, so an element the op should write but does not, or
// one it writes outside its channel range or outside the view, shows up. The copy is exact.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/hourglass.hpp"
#include "cuda/device_views.hpp"
#include "support/test_support.hpp"

namespace {

struct channel_case {
    hg::shape src, dst;
    std::int64_t src_first, dst_first, count;
};

/// Bitwise comparison that treats NaN == NaN (the untouched destination channels stay NaN).
bool same_bits(const hg::tensor& a, const hg::tensor& b) {
    if (a.numel() != b.numel()) return false;
    return std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<std::size_t>(a.numel())) == 0;
}

}  // namespace

TEST_CASE("cuda copy_channels matches the CPU for slices, joins, odd shapes and offsets") {
    hg::cuda be;
    hg::cpu host;
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const std::vector<channel_case> cases = {
        {hg::shape{2, 8, 8, 4}, hg::shape{2, 8, 8, 3}, 0, 0, 3},      // the face of a mask-head output
        {hg::shape{2, 8, 8, 4}, hg::shape{2, 8, 8, 1}, 3, 0, 1},      // its mask channel
        {hg::shape{2, 8, 8, 3}, hg::shape{2, 8, 8, 4}, 0, 0, 3},      // the join of the gradients
        {hg::shape{2, 8, 8, 1}, hg::shape{2, 8, 8, 4}, 0, 3, 1},
        {hg::shape{3, 5, 7, 13}, hg::shape{3, 5, 7, 9}, 4, 2, 6},
        {hg::shape{1, 1, 1, 5}, hg::shape{1, 1, 1, 5}, 0, 0, 5},
        {hg::shape{7, 11}, hg::shape{7, 2}, 9, 0, 2},                 // rank 2
        {hg::shape{16, 64, 64, 4}, hg::shape{16, 64, 64, 3}, 1, 0, 3}, // many grid-stride rounds
    };
    std::uint64_t seed = 900;
    for (const auto& k : cases) {
        const auto src = hg::test::random_tensor<float>(k.src, ++seed, -2.0, 2.0);
        auto want = hg::tensor::full(k.dst, nan);
        hg::ops::copy_channels(host, src, k.src_first, want, k.dst_first, k.count);
        for (std::int64_t in_off : {0, 1})
            for (std::int64_t out_off : {0, 3}) {
                CAPTURE(k.src);
                CAPTURE(k.dst);
                CAPTURE(in_off);
                CAPTURE(out_off);
                const auto d_src = hg::test::upload(be, src, in_off);
                const auto d_dst = hg::test::poisoned(be, k.dst, out_off);
                hg::ops::copy_channels(be, d_src.view, k.src_first, d_dst.view, k.dst_first, k.count);
                const auto got = hg::test::download(be, d_dst);
                CHECK(same_bits(got, want));
                // The source is not written.
                CHECK(same_bits(hg::test::download(be, d_src), src));
            }
    }
}

TEST_CASE("cuda copy_channels rejects bad ranges, mismatched shapes, host tensors and overlap") {
    hg::cuda be;
    const auto src = be.to_device(hg::tensor::zeros(hg::shape{2, 4, 4, 4}));
    const auto dst = be.to_device(hg::tensor::zeros(hg::shape{2, 4, 4, 3}));
    CHECK_THROWS_AS(hg::ops::copy_channels(be, src, 2, dst, 0, 3), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::copy_channels(be, src, 0, dst, 1, 3), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::copy_channels(be, src, 0, be.to_device(hg::tensor::zeros(hg::shape{2, 4, 5, 3})), 0, 3),
                    hg::shape_error);
    CHECK_THROWS_AS(hg::ops::copy_channels(be, hg::tensor::zeros(hg::shape{2, 4, 4, 4}), 0, dst, 0, 3), hg::device_error);
    CHECK_THROWS_AS(hg::ops::copy_channels(be, src, 0, src.slice(0, hg::shape{2, 4, 4, 3}), 0, 3), hg::value_error);
}
