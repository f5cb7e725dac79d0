// Face extraction end to end on real pictures (hg::media::extract_faces): the astronaut portrait
// of python3-skimage moved through known similarity transforms and encoded as H.264 MP4, the real
// MP4 files of python3-imageio, a folder of still photos; the recovered alignment against the
// known transforms, temporal smoothing, resuming, the filters, and bad input.
#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "hourglass/data/dataset.hpp"
#include "hourglass/data/image_io.hpp"
#include "hourglass/face/alignments.hpp"
#include "hourglass/face/smoothing.hpp"
#include "hourglass/media/extract.hpp"
#include "hourglass/media/video.hpp"
#include "media/moving_face.hpp"

namespace fs = std::filesystem;
using namespace hg_test_media;

namespace {


const hg::tensor& photo() {
    static const hg::tensor p = hg::data::load_image(astronaut_path()).rgb;
    return p;
}

/// (a o b)(x) = a(b(x)).
hg::data::affine2 compose(const hg::data::affine2& a, const hg::data::affine2& b) {
    return {a.a * b.a + a.b * b.d, a.a * b.b + a.b * b.e, a.a * b.c + a.b * b.f + a.c,
            a.d * b.a + a.e * b.d, a.d * b.b + a.e * b.e, a.d * b.c + a.e * b.f + a.f};
}

/// Writes the frames of `poses` (640 x 360) as an H.264 MP4.
void write_video(const fs::path& path, const std::vector<pose>& poses, float noise = 0.0f, std::int64_t w = 640,
                 std::int64_t h = 360) {
    hg::media::video_write_options vo;
    vo.fps = 25;
    vo.preset = "veryfast";
    hg::media::video_writer out(path, w, h, vo);
    for (std::size_t k = 0; k < poses.size(); ++k) out.write(render(photo(), poses[k], w, h, noise, k + 1));
    out.finish();
}

hg::media::extract_options options(const fs::path& input, const fs::path& output) {
    hg::media::extract_options o;
    o.input = input;
    o.output = output;
    o.align.size = 256;
    o.threads = 2;
    return o;
}

std::string error_of(const hg::media::extract_options& o) {
    try {
        (void)hg::media::extract_faces(o);
    } catch (const hg::error& e) {
        return e.what();
    }
    return "(no error)";
}

/// The photograph -> crop matrix that extraction finds on the untouched photograph.
hg::data::affine2 reference_matrix(const fs::path& work) {
    const auto s = hg::media::extract_faces(options(astronaut_path(), work / "reference"));
    REQUIRE(s.faces_kept == 1);
    const auto a = hg::face::read_alignments(s.alignments_file);
    REQUIRE(a.frames.size() == 1);
    return a.frames[0].faces.at(0).matrix;
}

}  // namespace

TEST_CASE("extract: a real face moved through known similarity transforms in an H.264 video is found once per frame, "
          "and the recovered alignment matches the transforms") {
    temp_folder dir{"hg_extract_test"};
    const int n = 24;
    const auto poses = moving_poses(n);
    write_video(dir / "moving.mp4", poses);
    const hg::data::affine2 ref = reference_matrix(dir.path);
    const hg::data::affine2 ref_inv = hg::data::inverse(ref);

    const auto s = hg::media::extract_faces(options(dir / "moving.mp4", dir / "faces"));
    CHECK(s.source_kind == "video");
    CHECK(s.frames_read == n);
    CHECK(s.frames_worked == n);
    CHECK(s.faces_found == n);
    CHECK(s.faces_kept == n);
    CHECK_FALSE(s.truncated);
    const auto a = hg::face::read_alignments(dir / "faces" / "alignments.json");
    CHECK(a.complete);
    REQUIRE(a.frames.size() == std::size_t(n));
    double worst_shift = 0, worst_degrees = 0, worst_scale = 0;
    for (int k = 0; k < n; ++k) {
        const auto& f = a.frames[std::size_t(k)];
        CHECK(f.index == k);
        CHECK(f.time == doctest::Approx(k / 25.0).epsilon(1e-6));
        REQUIRE(f.faces.size() == 1);
        const auto& face = f.faces[0];
        CHECK(face.file == "moving_" + std::string(k < 10 ? "00000" : "0000") + std::to_string(k) + "_0.png");
        CHECK(fs::is_regular_file(dir / "faces" / face.file));
        for (const char* sub : {"masks", "masks-eye", "masks-mouth"}) CHECK(fs::is_regular_file(dir / "faces" / sub / face.file));
        // photograph -> frame -> crop, against the photograph's own photograph -> crop: D = E o ref^-1
        // maps the reference crop to this frame's crop and is the identity when the alignment is exact.
        const auto d = compose(compose(face.matrix, poses[std::size_t(k)].matrix()), ref_inv);
        const double scale = std::sqrt(std::abs(d.a * d.e - d.b * d.d));
        const double degrees = std::atan2(d.b, d.a) * 180.0 / 3.14159265358979323846;
        const double cx = d.a * 128 + d.b * 128 + d.c - 128, cy = d.d * 128 + d.e * 128 + d.f - 128;
        worst_shift = std::max(worst_shift, std::hypot(cx, cy));
        worst_degrees = std::max(worst_degrees, std::abs(degrees));
        worst_scale = std::max(worst_scale, std::abs(scale - 1));
    }
    MESSAGE("worst over " << n << " frames: crop centre " << worst_shift << " px of 256, rotation " << worst_degrees
                          << " degrees, scale " << 100 * worst_scale << " %");
    // Tolerances: dlib returns landmarks rounded to whole frame pixels, the frame is a resampled,
    // H.264-compressed copy (the landmarks' texture moves by about a pixel), and the face is ~90 to
    // ~115 px wide in the frame while the crop shows it at 128 px: a pixel of landmark error is about
    // 1.2 crop pixels before the 51-point fit averages it. A few crop pixels, a degree and a half,
    // two and a half percent of scale leave room for that and fail for any real misalignment (a
    // wrong sign of the rotation is 20-40 degrees, a wrong scale 10-30 %).
    CHECK(worst_shift < 4.0);
    CHECK(worst_degrees < 1.5);
    CHECK(worst_scale < 0.025);

    // The folder is what train reads: every face with its face, eye and mouth masks.
    hg::data::dataset_options d;
    d.size = 64;
    const hg::data::face_dataset faces(dir / "faces", d);
    CHECK(faces.size() == n);
    CHECK(faces.mask_channels() == 3);
    CHECK(faces.skipped_count() == 0);
}

TEST_CASE("extract: a folder of still photos, with an unreadable one skipped and named") {
    temp_folder dir{"hg_extract_test"};
    const fs::path in = dir / "photos";
    fs::create_directories(in / "sub");
    pose p;
    p.cx = 300;
    p.cy = 220;
    hg::data::save_png(in / "a.png", render(photo(), p, 600, 480));
    p.degrees = 12;
    p.scale = 1.2;
    hg::data::save_jpeg(in / "sub" / "b.jpg", render(photo(), p, 600, 480), 92);
    { std::ofstream(in / "broken.png") << "this is not a picture"; }
    { std::ofstream(in / "notes.txt") << "not a picture either, and not named like one"; }
    const auto s = hg::media::extract_faces(options(in, dir / "faces"));
    CHECK(s.source_kind == "images");
    CHECK(s.faces_kept == 2);
    CHECK(s.unreadable == 1);
    REQUIRE(s.warnings.size() == 1);
    CHECK(s.warnings[0].find("broken.png") != std::string::npos);
    CHECK(fs::is_regular_file(dir / "faces" / "a_0.png"));
    CHECK(fs::is_regular_file(dir / "faces" / "sub_b_0.png"));
    const auto a = hg::face::read_alignments(dir / "faces" / "alignments.json");
    REQUIRE(a.frames.size() == 2);
    CHECK(a.frames[0].file == "a.png");
    CHECK(a.frames[1].file == "sub/b.jpg");
    const auto face = hg::data::load_image(dir / "faces" / "a_0.png");
    CHECK(face.width() == 256);
    CHECK(face.height() == 256);
}

TEST_CASE("extract: the real MP4 files of python3-imageio decode, and a video without faces gives 0 faces") {
    temp_folder dir{"hg_extract_test"};
    auto o = options(imageio_videos() / "cockatoo.mp4", dir / "cockatoo");
    o.every = 10;  // 280 frames of 1280 x 720: frames 0, 10, ..., 270
    const auto s = hg::media::extract_faces(o);
    CHECK(s.frames_read == 280);
    CHECK(s.frames_worked == 28);
    CHECK(s.faces_kept == 0);
    CHECK_FALSE(s.truncated);
    const auto a = hg::face::read_alignments(s.alignments_file);
    CHECK(a.complete);
    REQUIRE(a.frames.size() == 28);
    CHECK(a.frames[27].index == 270);
    CHECK(a.frames[27].time == doctest::Approx(270 / 20.0).epsilon(1e-6));

    const auto r = hg::media::extract_faces(options(imageio_videos() / "realshort.mp4", dir / "realshort"));
    CHECK(r.frames_read == 36);
    CHECK(r.frames_worked == 36);
    CHECK(r.faces_kept == 0);
}

TEST_CASE("extract: --smooth lowers the frame-to-frame landmark jitter of a still face") {
    temp_folder dir{"hg_extract_test"};
    // A still face: the same pose every frame, with pixel noise and sub-pixel sway (what a camera on
    // a tripod gives), so the raw landmarks jitter while the truth does not move.
    std::vector<pose> poses(30);
    hg::rng r(7, 3);
    for (auto& p : poses) {
        p.cx = 320 + 0.4 * r.uniform(-1.0f, 1.0f);
        p.cy = 180 + 0.4 * r.uniform(-1.0f, 1.0f);
        p.scale = 1.15;
    }
    write_video(dir / "still.mp4", poses, 0.03f);
    auto o = options(dir / "still.mp4", dir / "smooth");
    o.smooth = true;
    o.smooth_radius = 4;
    const auto s = hg::media::extract_faces(o);
    REQUIRE(s.faces_kept == 30);
    const auto a = hg::face::read_alignments(s.alignments_file);
    std::vector<hg::face::landmarks> raw, smooth;
    for (const auto& f : a.frames) {
        REQUIRE(f.faces.size() == 1);
        CHECK(f.faces[0].smoothed);
        raw.push_back(f.faces[0].detected);
        smooth.push_back(f.faces[0].points);
    }
    const double j_raw = hg::face::jitter(raw), j_smooth = hg::face::jitter(smooth);
    MESSAGE("landmark jitter on a still face: " << j_raw << " px per frame raw, " << j_smooth << " px smoothed");
    CHECK(j_raw > 0.05);               // the raw landmarks do move (else the test shows nothing)
    CHECK(j_smooth < 0.5 * j_raw);     // and smoothing removes at least half of it

    // Without --smooth the recorded landmarks are the detected ones, and match the smoothed run's raw ones.
    const auto plain = hg::media::extract_faces(options(dir / "still.mp4", dir / "plain"));
    const auto b = hg::face::read_alignments(plain.alignments_file);
    REQUIRE(b.frames.size() == a.frames.size());
    for (std::size_t k = 0; k < b.frames.size(); ++k) {
        CHECK_FALSE(b.frames[k].faces.at(0).smoothed);
        CHECK(b.frames[k].faces.at(0).points == raw[k]);
    }
}

TEST_CASE("extract: a stopped extraction resumes where it stopped and ends as a full run would") {
    temp_folder dir{"hg_extract_test"};
    const auto poses = moving_poses(16);
    write_video(dir / "clip.mp4", poses);
    auto o = options(dir / "clip.mp4", dir / "faces");
    o.smooth = true;
    o.smooth_radius = 2;
    o.save_seconds = 1e-6;  // rewrite the alignments file after every batch
    std::atomic<bool> stop{false};
    const auto first = hg::media::extract_faces(
        o, [&](const hg::media::extract_progress& p) { if (p.frames_read >= 7) stop = true; }, &stop);
    CHECK(first.stopped);
    const auto partial = hg::face::read_alignments(first.alignments_file);
    CHECK_FALSE(partial.complete);
    REQUIRE(partial.frames.size() >= 4);
    REQUIRE(partial.frames.size() < 16);

    const auto second = hg::media::extract_faces(o);
    CHECK(second.resumed_at == partial.frames.back().index + 1);
    CHECK_FALSE(second.stopped);
    CHECK(second.faces_kept == 16);
    const auto resumed = hg::face::read_alignments(second.alignments_file);
    CHECK(resumed.complete);

    auto full_o = o;
    full_o.output = dir / "full";
    (void)hg::media::extract_faces(full_o);
    const auto full = hg::face::read_alignments(dir / "full" / "alignments.json");
    REQUIRE(resumed.frames.size() == full.frames.size());
    for (std::size_t k = 0; k < full.frames.size(); ++k) {
        REQUIRE(resumed.frames[k].faces.size() == full.frames[k].faces.size());
        for (std::size_t i = 0; i < full.frames[k].faces.size(); ++i) {
            CHECK(resumed.frames[k].faces[i].points.isApprox(full.frames[k].faces[i].points, 1e-12));
            CHECK(resumed.frames[k].faces[i].file == full.frames[k].faces[i].file);
        }
    }

    // A third run finds the work done; another input or other settings are refused.
    const auto third = hg::media::extract_faces(o);
    CHECK(third.already_complete);
    CHECK(third.faces_kept == 16);
    auto other = o;
    other.align.size = 128;
    CHECK(error_of(other).find("other settings") != std::string::npos);
    write_video(dir / "other.mp4", moving_poses(3));
    other = o;
    other.input = dir / "other.mp4";
    CHECK(error_of(other).find("another input") != std::string::npos);
}

TEST_CASE("extract: --min-size, --max-faces and --blur-threshold drop faces and count them") {
    temp_folder dir{"hg_extract_test"};
    // Two faces side by side in one picture, one larger than the other.
    pose big, small;
    big.cx = 200;
    big.cy = 200;
    big.scale = 1.3;
    small.cx = 560;
    small.cy = 200;
    small.scale = 1.0;
    hg::tensor left = render(photo(), big, 800, 400), right = render(photo(), small, 800, 400);
    for (std::int64_t y = 0; y < 400; ++y)
        for (std::int64_t x = 400; x < 800; ++x)
            for (int c = 0; c < 3; ++c) left.data()[(y * 800 + x) * 3 + c] = right.data()[(y * 800 + x) * 3 + c];
    hg::data::save_png(dir / "two.png", left);

    auto o = options(dir / "two.png", dir / "all");
    auto s = hg::media::extract_faces(o);
    CHECK(s.faces_kept == 2);
    const auto both = hg::face::read_alignments(s.alignments_file);
    REQUIRE(both.frames.at(0).faces.size() == 2);
    const auto& b0 = both.frames[0].faces[0].box;
    CHECK(b0[0] < 400);  // largest first: the left face

    o.output = dir / "max1";
    o.max_faces = 1;
    s = hg::media::extract_faces(o);
    CHECK(s.faces_kept == 1);
    CHECK(s.dropped_max_faces == 1);
    const auto one = hg::face::read_alignments(s.alignments_file);
    REQUIRE(one.frames.at(0).dropped.size() == 1);
    CHECK(one.frames[0].dropped[0].reason == "max-faces");
    CHECK(one.frames[0].faces.at(0).box[0] < 400);

    o.output = dir / "min";
    o.max_faces = 0;
    o.min_size = std::sqrt((b0[2] - b0[0]) * (b0[3] - b0[1])) - 1;  // only the large face passes
    s = hg::media::extract_faces(o);
    CHECK(s.faces_kept == 1);
    CHECK(s.dropped_small == 1);

    // The blur threshold: between the two faces' scores keeps exactly the sharper one.
    const double blur_a = both.frames[0].faces[0].blur, blur_b = both.frames[0].faces[1].blur;
    MESSAGE("blur scores: " << blur_a << ", " << blur_b);
    REQUIRE(blur_a > 0);
    REQUIRE(std::abs(blur_a - blur_b) > 1);
    o.output = dir / "blur";
    o.min_size = 0;
    o.blur_threshold = 0.5 * (blur_a + blur_b);
    s = hg::media::extract_faces(o);
    CHECK(s.faces_kept == 1);
    CHECK(s.dropped_blurry == 1);
}

TEST_CASE("extract: bad input gets an error naming the file and the reason, and writes nothing half") {
    temp_folder dir{"hg_extract_test"};
    {
        std::ofstream(dir / "text.mp4") << "just some text in a file named like a video\n";
        const auto e = error_of(options(dir / "text.mp4", dir / "out1"));
        CHECK(e.find("text.mp4") != std::string::npos);
        CHECK(e.find("not a video") != std::string::npos);
        CHECK_FALSE(fs::exists(dir / "out1" / "alignments.json"));
    }
    {
        CHECK(error_of(options(dir / "missing.mp4", dir / "out2")).find("missing.mp4 does not exist") != std::string::npos);
        fs::create_directories(dir / "empty");
        CHECK(error_of(options(dir / "empty", dir / "out2")).find("has no pictures") != std::string::npos);
    }
    {
        // A truncated MP4 (index first, cut at 80 %): the frames before the cut are kept, and it says so.
        write_video(dir / "whole.mp4", moving_poses(12));
        const auto bytes = fs::file_size(dir / "whole.mp4");
        fs::copy_file(dir / "whole.mp4", dir / "cut.mp4");
        fs::resize_file(dir / "cut.mp4", bytes * 8 / 10);
        const auto s = hg::media::extract_faces(options(dir / "cut.mp4", dir / "cut"));
        CHECK(s.truncated);
        CHECK(s.truncation_message.find("cut.mp4") != std::string::npos);
        CHECK(s.frames_read < 12);
        CHECK(s.faces_kept == s.frames_read);
        const auto a = hg::face::read_alignments(s.alignments_file);
        CHECK(a.frames.size() == std::size_t(s.frames_read));
    }
    {
        auto o = options(astronaut_path(), dir / "out3");
        o.landmarks_model = dir / "no-such-model.dat";
        const auto e = error_of(o);
        CHECK(e.find("no-such-model.dat") != std::string::npos);
        CHECK(e.find("does not exist") != std::string::npos);
        o.landmarks_model = dir / "text.mp4";  // a file that is not a shape predictor
        CHECK(error_of(o).find("is not a dlib shape predictor") != std::string::npos);
        o.landmarks_model.clear();
        o.detector.cnn_model = dir / "no-detector.dat";
        CHECK(error_of(o).find("no-detector.dat does not exist") != std::string::npos);
        o.detector.cnn_model = dir / "text.mp4";
        CHECK(error_of(o).find("is not a dlib MMOD") != std::string::npos);
    }
    {
        // Frames larger than the size limit are refused before any is decoded.
        write_video(dir / "small.mp4", moving_poses(2));
        auto o = options(dir / "small.mp4", dir / "out4");
        o.max_pixels = 640 * 360 - 1;
        const auto e = error_of(o);
        CHECK(e.find("small.mp4") != std::string::npos);
        CHECK(e.find("over the limit") != std::string::npos);
        o.input = astronaut_path();
        o.max_pixels = 512 * 512 - 1;  // a single picture over the limit
        CHECK(error_of(o).find("astronaut.png") != std::string::npos);
    }
    {
        // An input folder that cannot be read: a dangling link, and (when not root) a folder without permissions.
        fs::create_directory_symlink(dir / "nowhere", dir / "dangling");
        CHECK(error_of(options(dir / "dangling", dir / "out5")).find("does not exist") != std::string::npos);
        if (::geteuid() != 0) {
            fs::create_directories(dir / "locked");
            fs::permissions(dir / "locked", fs::perms::none);
            CHECK(error_of(options(dir / "locked", dir / "out5")).find("cannot read the input folder") != std::string::npos);
            fs::permissions(dir / "locked", fs::perms::owner_all);
        }
    }
    {
        // A damaged alignments file in the output folder is named, and not overwritten.
        fs::create_directories(dir / "out6");
        const std::string damaged = "{\"format\": \"hourglass-alignments\", \"version\": 1, \"sou";
        { std::ofstream(dir / "out6" / "alignments.json") << damaged; }
        const auto e = error_of(options(astronaut_path(), dir / "out6"));
        CHECK(e.find("alignments.json") != std::string::npos);
        CHECK(e.find("remove it") != std::string::npos);
        std::ifstream in(dir / "out6" / "alignments.json");
        const std::string after((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        CHECK(after == damaged);
    }
    {
        auto o = options(astronaut_path(), dir / "out7");
        o.every = 0;
        CHECK(error_of(o).find("--every") != std::string::npos);
        o.every = 1;
        o.align.coverage = 3;
        CHECK_THROWS_AS(hg::media::extract_faces(o), hg::value_error);
    }
}
