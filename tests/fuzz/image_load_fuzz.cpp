// libFuzzer target for the image loader: arbitrary bytes into hg::data::load_image_from_memory.
// Any input must either load as a well-formed image (RGB [H, W, 3] in [0, 1], alpha [H, W, 1] in
// [0, 1] when present, within max_pixels) or throw hg::io_error; anything else (a crash, a sanitizer
// report, another exception, a hang) is a bug. A loaded image is also resized, to run the area
// resampler on odd sizes.
#include <cstddef>
#include <cstdint>

#include "hourglass/data/image_io.hpp"
#include "hourglass/data/resize.hpp"

namespace {

void require(bool ok) {
    if (!ok) __builtin_trap();
}

bool in_unit_range(const hg::tensor& t) {
    for (std::int64_t i = 0; i < t.numel(); ++i)
        if (!(t.data()[i] >= 0.0f && t.data()[i] <= 1.0f)) return false;
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    hg::data::load_options opts;
    opts.max_pixels = 1 << 20;  // keeps each run small; the check itself is what is fuzzed
    hg::data::image img;
    try {
        img = hg::data::load_image_from_memory(data, size, "fuzz input", opts);
    } catch (const hg::io_error&) {
        return 0;
    }
    const std::int64_t h = img.height(), w = img.width();
    require(h >= 1 && w >= 1 && h * w <= opts.max_pixels);
    require(img.rgb.shape() == hg::shape({h, w, 3}));
    require(in_unit_range(img.rgb));
    require(img.source_channels >= 1 && img.source_channels <= 4);
    require(img.has_alpha() == (img.source_channels == 2 || img.source_channels == 4));
    if (img.has_alpha()) {
        require(img.alpha.shape() == hg::shape({h, w, 1}));
        require(in_unit_range(img.alpha));
    }
    if (h * w <= 4096) {
        const hg::tensor small = hg::data::resize_area(img.rgb, 7, 5);
        require(in_unit_range(small));
    }
    return 0;
}
