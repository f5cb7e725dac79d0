// Converting frames (hg::swap::frame_converter) on the extraction test video of real faces: a
// converter whose model gives back its input returns the source frames, inside the faces within a
// stated PSNR and bit-identical outside every mask; the masks, colour modes and seamless blending
// run on real frames; bad options and a model of the wrong shape are refused. A folder of pictures
// of the same face (media/pictures.hpp): read in extraction's order under the alignments' names,
// converted by the identity model with the same guarantees, a picture without a face passed
// through bit for bit (also after the PNG round trip), and alignments of other pictures refused.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "hourglass/face/alignments.hpp"
#include "hourglass/media/extract.hpp"
#include "hourglass/media/pictures.hpp"
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
        static const hg_test_media::temp_folder scratch("hg_convert_test");  // removed at exit
        c.dir = scratch.path;
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

namespace {

/// A folder of pictures of the astronaut in other poses and sizes (one in a subfolder, one JPEG)
/// plus a picture without a face, extracted once.
struct picture_set {
    temp_folder dir{"hg_convert_pictures"};
    fs::path input = dir / "in", faces = dir / "faces";
    hg::face::alignments alignments;

    picture_set() {
        fs::create_directories(input / "more");
        const hg::tensor photo = hg::data::load_image(astronaut_path()).rgb;
        pose a;
        a.cx = 260;
        a.cy = 200;
        hg::data::save_png(input / "b_front.png", render(photo, a, 520, 400));
        pose b;
        b.degrees = -12;
        b.scale = 1.15;
        b.cx = 230;
        b.cy = 190;
        hg::data::save_jpeg(input / "a_tilted.jpg", render(photo, b, 480, 360), 92);
        pose c;
        c.degrees = 9;
        c.scale = 0.9;
        c.cx = 300;
        c.cy = 170;
        hg::data::save_png(input / "more" / "right.png", render(photo, c, 600, 340));
        // No face: a colour ramp.
        hg::tensor empty = hg::tensor::empty(hg::shape{200, 300, 3});
        for (std::int64_t y = 0; y < 200; ++y)
            for (std::int64_t x = 0; x < 300; ++x)
                for (int ch = 0; ch < 3; ++ch) empty[(y * 300 + x) * 3 + ch] = float((x + 2 * y + 40 * ch) % 256) / 255.0f;
        hg::data::save_png(input / "c_empty.png", empty);
        hg::media::extract_options o;
        o.input = input;
        o.output = faces;
        o.threads = 2;
        const auto s = hg::media::extract_faces(o);
        REQUIRE(s.frames_read == 4);
        REQUIRE(s.faces_kept == 3);
        alignments = hg::face::read_alignments(s.alignments_file);
    }
};

const picture_set& pictures() {
    static const picture_set set;
    return set;
}

double max_difference(const hg::tensor& a, const hg::tensor& b) {
    REQUIRE(a.shape() == b.shape());
    double m = 0;
    for (std::int64_t q = 0; q < a.numel(); ++q) m = std::max(m, std::abs(double(a[q]) - double(b[q])));
    return m;
}

}  // namespace

TEST_CASE("convert: pictures are read in extraction's order, under its names, at its sizes") {
    const auto& p = pictures();
    hg::media::picture_reader r(p.input, {p.faces});
    CHECK(r.kind() == "images");
    REQUIRE(r.count() == 4);
    CHECK(r.file(0) == "a_tilted.jpg");
    CHECK(r.file(1) == "b_front.png");
    CHECK(r.file(2) == "c_empty.png");
    CHECK(r.file(3) == "more/right.png");
    REQUIRE_NOTHROW(r.check_alignments(p.alignments, p.faces / "alignments.json", p.input));
    REQUIRE(p.alignments.frames.size() == 4);
    hg::media::picture_frame f;
    for (const auto& rec : p.alignments.frames) {
        REQUIRE(r.next(f));
        CHECK(f.index == rec.index);
        CHECK(f.file == rec.file);
        CHECK(rec.width == f.rgb.shape()[1]);  // extraction records each picture's size
        CHECK(rec.height == f.rgb.shape()[0]);
        CHECK(rec.faces.size() == (rec.file == "c_empty.png" ? 0u : 1u));
        CHECK_NOTHROW(hg::media::picture_reader::check_size(rec, f.path, f.rgb.shape()[1], f.rgb.shape()[0], "alignments.json"));
    }
    CHECK_FALSE(r.next(f));
}

TEST_CASE("convert: a folder of pictures through a model that gives back its input") {
    const auto& p = pictures();
    const std::int64_t size = p.alignments.settings.at("size").as_int();
    hg::swap::convert_options o;
    o.color = hg::face::color_mode::none;
    o.blur = 4;
    const hg::swap::frame_converter identity(o, size, 128, 128, false, [](const hg::tensor& x) { return x.clone(); });
    hg::media::picture_reader r(p.input, {p.faces});
    hg::media::picture_frame f;
    temp_folder out("hg_convert_pictures_out");
    while (r.next(f)) {
        CAPTURE(f.file);
        const auto& rec = p.alignments.frames.at(static_cast<std::size_t>(f.index));
        const hg::tensor converted = identity.convert(f.rgb, rec.faces);
        const std::int64_t h = f.rgb.shape()[0], w = f.rgb.shape()[1];
        REQUIRE(converted.shape() == f.rgb.shape());
        double se = 0;
        std::int64_t changed = 0, far_changed = 0;
        for (std::int64_t y = 0; y < h; ++y)
            for (std::int64_t x = 0; x < w; ++x)
                for (int c = 0; c < 3; ++c) {
                    const std::int64_t q = (y * w + x) * 3 + c;
                    const double d = double(converted[q]) - double(f.rgb[q]);
                    changed += d != 0;
                    se += d * d;
                    if (d != 0 && !rec.faces.empty()) {
                        const auto& box = rec.faces[0].box;
                        const double margin = 1.5 * (box[2] - box[0]);
                        far_changed += x < box[0] - margin || x > box[2] + margin || y < box[1] - margin || y > box[3] + margin;
                    }
                }
        if (rec.faces.empty()) {
            CHECK(changed == 0);  // no face: the picture passes through bit for bit
        } else {
            REQUIRE(changed > 0);
            const double in_face_psnr = psnr(se / double(changed));
            MESSAGE("identity convert of " << f.file << ": PSNR " << in_face_psnr << " dB over " << changed << " changed values");
            CHECK(in_face_psnr > 30.0);
            CHECK(far_changed == 0);  // outside the face's reach: bit-identical
        }
        // As the command writes it: PNG, 8 bits (rounded to nearest); reading it back gives those
        // values, so unchanged pixels keep their 8-bit values.
        const fs::path png = out.path / (std::to_string(f.index) + ".png");
        hg::data::save_png(png, converted);
        const hg::tensor back = hg::data::load_image(png).rgb;
        std::int64_t differ = 0;
        for (std::int64_t q = 0; q < back.numel(); ++q)
            differ += std::lrint(back[q] * 255.0f) != std::lrint(converted[q] * 255.0f);  // save_png's rounding
        CHECK(differ == 0);
        if (rec.faces.empty()) {
            const hg::tensor original = hg::data::load_image(f.path).rgb;
            CHECK(max_difference(back, original) == 0.0);
        }
    }
}

TEST_CASE("convert: alignments of other pictures are refused, naming the difference") {
    const auto& p = pictures();
    const fs::path file = p.faces / "alignments.json";
    temp_folder other("hg_convert_other_pictures");
    // One picture fewer.
    fs::copy_file(p.input / "b_front.png", other.path / "b_front.png");
    fs::copy_file(p.input / "c_empty.png", other.path / "c_empty.png");
    fs::create_directories(other.path / "more");
    fs::copy_file(p.input / "more" / "right.png", other.path / "more" / "right.png");
    CHECK_THROWS_WITH_AS(hg::media::picture_reader(other.path).check_alignments(p.alignments, file, other.path),
                         doctest::Contains("was made from another folder (4 pictures)"), hg::value_error);
    // As many pictures, one under another name.
    fs::copy_file(p.input / "a_tilted.jpg", other.path / "a_turned.jpg");
    CHECK_THROWS_WITH_AS(hg::media::picture_reader(other.path).check_alignments(p.alignments, file, other.path),
                         doctest::Contains("its picture 0 is 'a_tilted.jpg'"), hg::value_error);
    // The same names, one picture of another size.
    fs::rename(other.path / "a_turned.jpg", other.path / "a_tilted.jpg");
    hg::media::picture_reader same(other.path);
    REQUIRE_NOTHROW(same.check_alignments(p.alignments, file, other.path));
    const auto& rec = p.alignments.frames.at(1);  // b_front.png, 520x400
    CHECK_THROWS_WITH_AS(hg::media::picture_reader::check_size(rec, other.path / "b_front.png", 500, 400, file),
                         doctest::Contains("was made from another picture 'b_front.png' (520x400)"), hg::value_error);
    // Alignments of a video, and a video's frames against a picture's alignments.
    CHECK_THROWS_WITH_AS(same.check_alignments(source().alignments, file, other.path), doctest::Contains("was made from a video"),
                         hg::value_error);
    CHECK_THROWS_WITH_AS(hg::media::picture_reader(other.path / "b_front.png").check_alignments(p.alignments, file, other.path),
                         doctest::Contains("was made from a folder of pictures"), hg::value_error);
    CHECK_THROWS_AS(hg::media::picture_reader(other.path / "nothing"), hg::io_error);
}
