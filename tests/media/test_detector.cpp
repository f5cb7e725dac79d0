// Face detection and 68 landmarks (hg::media::face_detector, landmark_predictor) on the real
// astronaut portrait of python3-skimage: the face is found where it is, boxes found on a
// downscaled copy map back to the picture, upsampling finds a face too small for the plain scan,
// the landmarks scale with the picture, the CNN path loads and runs a dlib MMOD network, and bad
// models, pictures and options are refused with the reason.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <dlib/image_processing/shape_predictor.h>

#include "hourglass/data/image_io.hpp"
#include "hourglass/data/resize.hpp"
#include "hourglass/media/face_detector.hpp"
#include "hourglass/media/landmark_predictor.hpp"
#include "media/mmod_network.hpp"
#include "media/moving_face.hpp"

namespace fs = std::filesystem;
using namespace hg_test_media;

namespace {

struct picture {
    std::vector<std::uint8_t> rgb;
    std::int64_t width = 0, height = 0;
    hg::media::rgb_view view() const { return {rgb.data(), width, height}; }
};

picture bytes_of(const hg::tensor& t) {
    picture p;
    p.height = t.shape()[0];
    p.width = t.shape()[1];
    p.rgb.resize(static_cast<std::size_t>(t.numel()));
    for (std::int64_t i = 0; i < t.numel(); ++i) p.rgb[std::size_t(i)] = static_cast<std::uint8_t>(std::lround(t[i] * 255.0f));
    return p;
}

const hg::tensor& photo() {
    static const hg::tensor p = hg::data::load_image(astronaut_path()).rgb;
    return p;
}

fs::path scratch(const std::string& name) {
    static const hg_test_media::temp_folder d("hg_detector_test");  // removed at exit
    return d / name;
}

}  // namespace

TEST_CASE("face_detector: HOG finds the astronaut's face where it is, also through a downscaled copy") {
    const picture p = bytes_of(photo());
    hg::media::face_detector d;
    CHECK(d.name() == "hog");
    const auto boxes = d.detect(p.view());
    REQUIRE(boxes.size() == 1);
    const auto& b = boxes[0];
    // The face centre (between the eyes and the mouth) is inside the box, and the box is face-sized.
    CHECK(b.left < face_x);
    CHECK(b.right > face_x);
    CHECK(b.top < face_y);
    CHECK(b.bottom > face_y);
    CHECK(b.width() > 60);
    CHECK(b.width() < 130);
    CHECK(b.score > 0);

    // Twice as large (1024 px) is scanned on a 640 px copy: the box maps back to twice the original
    // box, up to the copy's coarser pixels (1.6 px of the large picture per copy pixel, and HOG's
    // 8-pixel cells of the copy: a few percent of the box).
    const picture big = bytes_of(hg::data::resize_area(photo(), 1024, 1024));
    hg::media::detector_options o;
    o.detect_size = 640;
    hg::media::face_detector scaled(o);
    const auto big_boxes = scaled.detect(big.view());
    REQUIRE(big_boxes.size() == 1);
    // HOG finds boxes on a pyramid of 5/6 steps and 8-pixel cells, so a box's size is quantised to
    // about a pyramid step (20 %) and its place to a cell: the size agrees within 25 % and the
    // centre within 10 % of the size (a box not mapped back would be 0.625 times as large and
    // sit at 0.625 times the place).
    const auto& bb = big_boxes[0];
    CHECK(bb.width() / (2 * b.width()) == doctest::Approx(1.0).epsilon(0.25));
    CHECK(std::abs((bb.left + bb.right) / 2 - (b.left + b.right)) < 0.1 * 2 * b.width());
    CHECK(std::abs((bb.top + bb.bottom) / 2 - (b.top + b.bottom)) < 0.1 * 2 * b.width());

    // A copy of the detector finds the same.
    hg::media::face_detector copy = d.clone();
    const auto again = copy.detect(p.view());
    REQUIRE(again.size() == 1);
    CHECK(again[0].left == b.left);
    CHECK(again[0].score == b.score);
}

TEST_CASE("face_detector: upsampling finds a face smaller than the HOG window") {
    // The astronaut at a third of its size: the face is ~30 px, under HOG's 80 px window.
    const picture small = bytes_of(hg::data::resize_area(photo(), 171, 171));
    hg::media::face_detector plain;
    CHECK(plain.detect(small.view()).empty());
    hg::media::detector_options o;
    o.upsample = 2;
    hg::media::face_detector up(o);
    const auto boxes = up.detect(small.view());
    REQUIRE(boxes.size() == 1);
    CHECK(boxes[0].left < face_x / 3);
    CHECK(boxes[0].right > face_x / 3);
    CHECK(boxes[0].width() < 50);
}

TEST_CASE("landmark_predictor: 68 points in the face's parts, scaling with the picture") {
    const picture p = bytes_of(photo());
    hg::media::face_detector d;
    const auto boxes = d.detect(p.view());
    REQUIRE(boxes.size() == 1);
    const hg::media::landmark_predictor lp;
    CHECK(lp.model_path().filename() == "shape_predictor_68_face_landmarks.dat");
    const auto l = lp.predict(p.view(), boxes[0]);
    // Eyes above the nose tip above the mouth; the person's right eye on the left of the picture.
    const double eye_y = (l(36, 1) + l(45, 1)) / 2, mouth_y = (l(48, 1) + l(54, 1)) / 2;
    CHECK(eye_y < l(30, 1));
    CHECK(l(30, 1) < mouth_y);
    CHECK(l(36, 0) < l(45, 0));
    CHECK(l(8, 1) > mouth_y);  // the chin
    for (int i = 0; i < 68; ++i) {
        CHECK(l(i, 0) > boxes[0].left - 30);
        CHECK(l(i, 0) < boxes[0].right + 30);
    }
    // The same face in a picture twice as large: twice the coordinates, within the model's whole-
    // pixel output and the resampling (2 px of the large picture).
    const picture big = bytes_of(hg::data::resize_area(photo(), 1024, 1024));
    hg::media::face_box bb = boxes[0];
    bb.left *= 2;
    bb.top *= 2;
    bb.right *= 2;
    bb.bottom *= 2;
    const auto lb = lp.predict(big.view(), bb);
    double worst = 0;
    for (int i = 0; i < 68; ++i) worst = std::max(worst, std::hypot(lb(i, 0) - 2 * l(i, 0) - 0.5, lb(i, 1) - 2 * l(i, 1) - 0.5));
    MESSAGE("landmarks at twice the size differ from twice the landmarks by at most " << worst << " px");
    CHECK(worst < 4.0);
}

TEST_CASE("face_detector: the CNN path loads a dlib MMOD network file and runs it") {
    // An untrained network of the detector's type (dlib's own initialisation), saved like a model
    // file: loading, the pyramid scan and the mapping of boxes back are exercised; what it finds is
    // meaningless, so only the boxes' bounds are checked.
    hg::media::detail::mmod_net net([] {
        dlib::mmod_options o;
        o.detector_windows = {dlib::mmod_options::detector_window_details(40, 40)};
        o.be_quiet = true;
        return o;
    }());
    // Affine layers per channel, as in a trained model (converted from batch normalisation of
    // convolutions); default-constructed ones would be per element of one input size.
    dlib::visit_computational_layers(net, [](dlib::affine_& l) { l = dlib::affine_(dlib::CONV_MODE); });
    const picture p = bytes_of(hg::data::resize_area(photo(), 256, 256));
    dlib::matrix<dlib::rgb_pixel> warm(64, 64);
    for (long y = 0; y < 64; ++y)
        for (long x = 0; x < 64; ++x) warm(y, x) = dlib::rgb_pixel(static_cast<unsigned char>(x * 4), static_cast<unsigned char>(y * 4), 90);
    (void)net(warm);  // sets the layers up
    const fs::path model = scratch("mmod_untrained.dat");
    dlib::serialize(model.string()) << net;

    hg::media::detector_options o;
    o.cnn_model = model;
    o.detect_size = 200;
    o.threshold = -1e3;  // an untrained network scores low: keep what it finds, to check the boxes
    hg::media::face_detector d(o);
    CHECK(d.name() == "cnn");
    const auto boxes = d.detect(p.view());
    MESSAGE("the untrained network gave " << boxes.size() << " boxes");
    REQUIRE_FALSE(boxes.empty());
    for (const auto& b : boxes) {
        CHECK(b.left >= 0);
        CHECK(b.top >= 0);
        CHECK(b.right <= 256);
        CHECK(b.bottom <= 256);
        CHECK(b.width() > 0);
    }
    hg::media::face_detector copy = d.clone();
    CHECK(copy.detect(p.view()).size() == boxes.size());
}

TEST_CASE("face_detector and landmark_predictor: bad models, pictures and options are refused with the reason") {
    auto message = [](auto&& f) -> std::string {
        try {
            f();
        } catch (const hg::error& e) {
            return e.what();
        }
        return "(no error)";
    };
    const fs::path text = scratch("not_a_model.dat");
    std::ofstream(text) << "plain text, not a model";
    CHECK(message([&] { hg::media::landmark_predictor lp(scratch("absent.dat")); }).find("absent.dat does not exist") != std::string::npos);
    CHECK(message([&] { hg::media::landmark_predictor lp(text); }).find("not_a_model.dat is not a dlib shape predictor") !=
          std::string::npos);
    CHECK(message([&] { hg::media::landmark_predictor lp(fs::temp_directory_path()); }).find("is not a file") != std::string::npos);
    {
        // A shape predictor of another point count (an empty one: 0 points).
        const fs::path other = scratch("zero_points.dat");
        dlib::shape_predictor sp;
        dlib::serialize(other.string()) << sp;
        CHECK_THROWS_WITH_AS(hg::media::landmark_predictor{other}, doctest::Contains("predicts 0 points, not the 68"), hg::format_error);
    }
    hg::media::detector_options o;
    o.cnn_model = text;
    CHECK(message([&] { hg::media::face_detector d(o); }).find("is not a dlib MMOD face detector network") != std::string::npos);
    o = {};
    o.detect_size = 50;
    CHECK_THROWS_AS(hg::media::face_detector{o}, hg::value_error);
    o = {};
    o.upsample = 4;
    CHECK_THROWS_AS(hg::media::face_detector{o}, hg::value_error);

    hg::media::face_detector d;
    CHECK_THROWS_AS(d.detect(hg::media::rgb_view{}), hg::shape_error);
    const hg::media::landmark_predictor lp;
    const picture p = bytes_of(photo());
    CHECK_THROWS_AS(lp.predict(p.view(), hg::media::face_box{10, 10, 10, 40, 1}), hg::value_error);
    // A picture without faces gives none (no landmarks to predict then).
    const picture grey = bytes_of(hg::tensor::full(hg::shape{200, 300, 3}, 0.5f));
    CHECK(d.detect(grey.view()).empty());
    CHECK(lp.predict(grey.view(), std::vector<hg::media::face_box>{}).empty());
}
