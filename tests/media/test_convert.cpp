// Converting frames (hg::swap::frame_converter) on the extraction test video of real faces: a
// converter whose model gives back its input returns the source frames, inside the faces within a
// stated PSNR and bit-identical outside every mask; the masks, colour modes and seamless blending
// run on real frames; bad options and a model of the wrong shape are refused.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "hourglass/face/alignments.hpp"
#include "hourglass/media/extract.hpp"
#include "hourglass/media/video.hpp"
#include "hourglass/swap/convert.hpp"
#include "media/moving_face.hpp"

namespace fs = std::filesystem;
using namespace hg_test_media;

namespace {

struct converted_video {
    fs::path dir;
    std::vector<hg::tensor> frames;
    hg::face::alignments alignments;
};

/// The moving-face video of the extraction tests (8 frames) with its alignments, extracted once.
const converted_video& source() {
    static const converted_video v = [] {
        converted_video c;
        c.dir = fs::temp_directory_path() / ("hg_convert_test_" + std::to_string(::getpid()));
        fs::remove_all(c.dir);
        fs::create_directories(c.dir);
        const hg::tensor photo = hg::data::load_image(astronaut_path()).rgb;
        hg::media::video_write_options vo;
        vo.preset = "veryfast";
        {
            hg::media::video_writer w(c.dir / "clip.mp4", 640, 360, vo);
            for (const auto& p : moving_poses(8)) w.write(render(photo, p, 640, 360));
            w.finish();
        }
        hg::media::extract_options o;
        o.input = c.dir / "clip.mp4";
        o.output = c.dir / "faces";
        o.threads = 2;
        const auto s = hg::media::extract_faces(o);
        REQUIRE(s.faces_kept == 8);
        c.alignments = hg::face::read_alignments(s.alignments_file);
        hg::media::video_reader r(c.dir / "clip.mp4");
        hg::media::video_frame f;
        while (r.next(f)) c.frames.push_back(f.to_tensor());
        REQUIRE(c.frames.size() == 8);
        return c;
    }();
    return v;
}

double psnr(double mse) { return mse > 0 ? 10.0 * std::log10(1.0 / mse) : 200.0; }

}  // namespace

TEST_CASE("convert: a model that gives back its input returns the source frames") {
    const auto& v = source();
    const std::int64_t size = v.alignments.settings.at("size").as_int();
    hg::swap::convert_options o;
    o.color = hg::face::color_mode::none;
    o.mask = hg::swap::paste_mask::extended;
    o.blur = 4;
    const hg::swap::frame_converter identity(o, size, 128, 128, false, [](const hg::tensor& x) { return x.clone(); });
    std::vector<std::vector<hg::face::face_record>> faces;
    for (const auto& f : v.alignments.frames) faces.push_back(f.faces);
    const auto out = identity.convert(v.frames, faces);
    REQUIRE(out.size() == v.frames.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
        const auto& f = v.frames[i];
        const std::int64_t h = f.shape()[0], w = f.shape()[1];
        // Inside the face: the crop cut out at 128 px and warped back (two bilinear resamplings of
        // a ~100-140 px face at a slightly smaller scale) blurs fine detail a little: PSNR over the
        // changed pixels above 30 dB. Outside every mask: bit-identical.
        double se = 0;
        std::int64_t changed = 0;
        for (std::int64_t q = 0; q < h * w * 3; ++q) {
            const double d = double(out[i][q]) - double(f[q]);
            if (d != 0) ++changed;
            se += d * d;
        }
        REQUIRE(changed > 0);
        const double in_face_psnr = psnr(se / double(changed));
        CHECK(in_face_psnr > 30.0);
        // Pixels far from the face box (beyond the crop) are untouched.
        const auto& box = v.alignments.frames[i].faces.at(0).box;
        const double margin = 1.5 * (box[2] - box[0]);
        std::int64_t far_changed = 0;
        for (std::int64_t y = 0; y < h; ++y)
            for (std::int64_t x = 0; x < w; ++x) {
                const bool far = x < box[0] - margin || x > box[2] + margin || y < box[1] - margin || y > box[3] + margin;
                if (!far) continue;
                for (int c = 0; c < 3; ++c) far_changed += out[i][(y * w + x) * 3 + c] != f[(y * w + x) * 3 + c];
            }
        CHECK(far_changed == 0);
        if (i == 0) MESSAGE("identity convert, frame 0: PSNR " << in_face_psnr << " dB over " << changed << " changed values");
    }
}

TEST_CASE("convert: every mask and colour mode, seamless and sharpening run on real frames") {
    const auto& v = source();
    const std::int64_t size = v.alignments.settings.at("size").as_int();
    const auto& frame = v.frames[3];
    const auto& faces = v.alignments.frames[3].faces;
    // A "model" that tints the face: the colour modes must bring it back towards the frame.
    auto tint = [](const hg::tensor& x) {
        hg::tensor y = x.clone();
        for (std::int64_t q = 0; q < y.numel(); q += 3) y[q] = std::min(1.0f, y[q] * 0.6f + 0.35f);
        return y;
    };
    // Summed over the frame's red channel: the signed error (the tint's mean) and the absolute one.
    double none_err = 0, none_bias = 0;
    for (const auto mode : {hg::face::color_mode::none, hg::face::color_mode::avg, hg::face::color_mode::rct,
                            hg::face::color_mode::lct, hg::face::color_mode::hist}) {
        hg::swap::convert_options o;
        o.color = mode;
        o.blur = 3;
        const hg::swap::frame_converter c(o, size, 96, 96, false, tint);
        const auto out = c.convert(frame, faces);
        double err = 0, bias = 0;
        for (std::int64_t q = 0; q < frame.numel(); q += 3) {
            err += std::abs(out[q] - frame[q]);
            bias += out[q] - frame[q];
        }
        MESSAGE("colour mode " << hg::face::to_string(mode) << ": red error " << err << ", red bias " << bias);
        if (mode == hg::face::color_mode::none) {
            none_err = err;
            none_bias = bias;
            CHECK(bias > 100);  // the tint shows
        } else {
            // Every mode takes the tint's mean back out; avg matches the mean only (the tint also
            // lowers the contrast), the others the spread too.
            CHECK(std::abs(bias) < 0.25 * none_bias);
            if (mode != hg::face::color_mode::avg) CHECK(err < 0.6 * none_err);
        }
    }
    for (const auto mask : {hg::swap::paste_mask::components, hg::swap::paste_mask::extended, hg::swap::paste_mask::box}) {
        hg::swap::convert_options o;
        o.mask = mask;
        o.erode = 2;
        o.blur = 5;
        o.seamless = true;
        o.sharpen = 0.5;
        const hg::swap::frame_converter c(o, size, 64, 64, false, tint);
        const auto out = c.convert(frame, faces);
        CHECK(out.shape() == frame.shape());
        for (std::int64_t q = 0; q < out.numel(); ++q) REQUIRE(std::isfinite(out[q]));
    }
    // A learned mask: channel 3 of the model's output (here: ones in the centre quarter).
    hg::swap::convert_options o;
    o.mask = hg::swap::paste_mask::learned;
    const hg::swap::frame_converter learned(o, size, 64, 64, true, [](const hg::tensor& x) {
        const std::int64_t n = x.shape()[0];
        hg::tensor y = hg::tensor::empty(hg::shape{n, 64, 64, 4});
        for (std::int64_t i = 0; i < n * 64 * 64; ++i) {
            for (int c = 0; c < 3; ++c) y[i * 4 + c] = 1.0f - x[i * 3 + c];
            const std::int64_t px = i % (64 * 64), yy = px / 64, xx = px % 64;
            y[i * 4 + 3] = (yy >= 16 && yy < 48 && xx >= 16 && xx < 48) ? 1.0f : 0.0f;
        }
        return y;
    });
    CHECK(learned.convert(frame, faces).shape() == frame.shape());
}

TEST_CASE("convert: bad options and a model of the wrong shape are refused") {
    const auto& v = source();
    const auto& faces = v.alignments.frames[0].faces;
    hg::swap::convert_options o;
    o.mask = hg::swap::paste_mask::learned;
    CHECK_THROWS_WITH_AS(hg::swap::frame_converter(o, 256, 64, 64, false, [](const hg::tensor& x) { return x; }),
                         doctest::Contains("needs a model trained with --mask"), hg::value_error);
    o = {};
    o.blur = -1;
    CHECK_THROWS_AS(hg::swap::frame_converter(o, 256, 64, 64, false, [](const hg::tensor& x) { return x; }), hg::value_error);
    o = {};
    const hg::swap::frame_converter wrong(o, 256, 64, 64, false, [](const hg::tensor& x) {
        return hg::tensor::full(hg::shape{x.shape()[0], 32, 32, 3}, 0.5f);
    });
    CHECK_THROWS_WITH_AS(wrong.convert(v.frames[0], faces), doctest::Contains("the model gave [1, 32, 32, 3]"), hg::shape_error);
    CHECK_THROWS_AS(hg::swap::parse_paste_mask("round"), hg::value_error);
}
