// Area resampling against a naive reference, the face cache (budget, LRU order), and the face
// dataset: recursive sorted scan, resizing, masks (folder and alpha), bad files skipped with
// warnings, errors for unusable folders, cache budget, deterministic results across thread counts.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "hourglass/data/dataset.hpp"
#include "hourglass/data/face_cache.hpp"
#include "hourglass/data/resize.hpp"
#include "test_data_fixtures.hpp"

namespace fs = std::filesystem;
using namespace hg_test_data;

namespace {

hg::tensor random_image(std::int64_t h, std::int64_t w, std::int64_t c, std::uint64_t seed) {
    hg::rng r(seed, 5);
    auto t = hg::tensor::empty(hg::shape{h, w, c});
    for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = r.uniform(0.05f, 1.0f);
    return t;
}

/// The 1-D weight of source pixel s for output pixel i, written from the definitions: the part of
/// [s, s + 1) inside the output's footprint [i * in / out, (i + 1) * in / out), divided by the
/// footprint's length, when shrinking; the tent max(0, 1 - |x - s|) around the clamped centre
/// x = (i + 0.5) * in / out - 0.5 when growing.
double naive_weight(std::int64_t in, std::int64_t out, std::int64_t i, std::int64_t s) {
    if (out <= in) {
        const double lo = double(i) * double(in) / double(out), hi = double(i + 1) * double(in) / double(out);
        const double overlap = std::max(0.0, std::min(hi, double(s + 1)) - std::max(lo, double(s)));
        return overlap / (hi - lo);
    }
    double x = (double(i) + 0.5) * double(in) / double(out) - 0.5;
    x = std::min(std::max(x, 0.0), double(in - 1));
    return std::max(0.0, 1.0 - std::fabs(x - double(s)));
}

/// Every output pixel as a sum over every source pixel (slow, obviously complete).
hg::tensor naive_resize(const hg::tensor& src, std::int64_t oh, std::int64_t ow) {
    const std::int64_t h = src.shape()[0], w = src.shape()[1], c = src.shape()[2];
    auto out = hg::tensor::empty(hg::shape{oh, ow, c});
    for (std::int64_t y = 0; y < oh; ++y)
        for (std::int64_t x = 0; x < ow; ++x)
            for (std::int64_t k = 0; k < c; ++k) {
                double acc = 0;
                for (std::int64_t sy = 0; sy < h; ++sy)
                    for (std::int64_t sx = 0; sx < w; ++sx)
                        acc += naive_weight(h, oh, y, sy) * naive_weight(w, ow, x, sx) * src.data()[(sy * w + sx) * c + k];
                out.data()[(y * ow + x) * c + k] = float(acc);
            }
    return out;
}

void make_face(const fs::path& p, int side, std::uint64_t seed, int comp = 3) { write_random_png(p, side, side, comp, seed); }

bool has_reason(const hg::data::face_dataset& ds, const std::string& file, const std::string& words) {
    for (const auto& s : ds.skipped())
        if (s.path.filename() == file && s.reason.find(words) != std::string::npos) return true;
    return false;
}

std::string error_of(const fs::path& root, const hg::data::dataset_options& opts = {}) {
    try {
        hg::data::face_dataset ds(root, opts);
    } catch (const hg::io_error& e) {
        return e.what();
    }
    return "(no io_error)";
}

}  // namespace

TEST_CASE("resize_area: matches the naive reference when shrinking, growing and mixed") {
    struct tcase {
        std::int64_t h, w, c, oh, ow;
    };
    for (const tcase t : {tcase{37, 23, 3, 8, 8}, tcase{64, 64, 3, 16, 16}, tcase{10, 9, 1, 3, 4}, tcase{5, 7, 3, 12, 9},
                          tcase{20, 5, 2, 7, 11}, tcase{3, 30, 3, 8, 6}, tcase{1, 1, 3, 4, 4}, tcase{17, 13, 1, 1, 1}}) {
        CAPTURE(t.h);
        CAPTURE(t.w);
        CAPTURE(t.oh);
        CAPTURE(t.ow);
        const auto src = random_image(t.h, t.w, t.c, std::uint64_t(t.h * 100 + t.w));
        const auto got = hg::data::resize_area(src, t.oh, t.ow);
        const auto want = naive_resize(src, t.oh, t.ow);
        REQUIRE(got.shape() == want.shape());
        for (std::int64_t i = 0; i < got.numel(); ++i) REQUIRE(got[i] == doctest::Approx(want[i]).epsilon(1e-5));
    }
}

TEST_CASE("resize_area: flat stays flat, the mean survives integer shrinking, same size copies") {
    const auto flat = hg::tensor::full(hg::shape{33, 21, 3}, 0.37f);
    const auto out = hg::data::resize_area(flat, 8, 13);
    for (std::int64_t i = 0; i < out.numel(); ++i) REQUIRE(out[i] == doctest::Approx(0.37f).epsilon(1e-6));
    const auto src = random_image(32, 32, 1, 3);
    const auto half = hg::data::resize_area(src, 8, 8);
    double a = 0, b = 0;
    for (std::int64_t i = 0; i < src.numel(); ++i) a += src[i];
    for (std::int64_t i = 0; i < half.numel(); ++i) b += half[i];
    CHECK(a / 1024.0 == doctest::Approx(b / 64.0).epsilon(1e-6));
    // A 4x shrink of a 4x4 block is its plain average.
    double block = 0;
    for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 4; ++x) block += src.data()[y * 32 + x];
    CHECK(half[0] == doctest::Approx(block / 16.0).epsilon(1e-6));
    const auto same = hg::data::resize_area(src, 32, 32);
    CHECK(same.to_vector() == src.to_vector());
    CHECK(same.data() != src.data());
    CHECK_THROWS_AS(hg::data::resize_area(src, 0, 4), hg::shape_error);
    CHECK_THROWS_AS(hg::data::resize_area(hg::tensor::zeros(hg::shape{1, 4, 4, 3}), 2, 2), hg::shape_error);
}

TEST_CASE("face_cache: stays within its byte budget and evicts the least recently used") {
    auto make = [](float v) {
        auto f = std::make_shared<hg::data::face>();
        f->rgb = hg::tensor::full(hg::shape{4, 4, 3}, v);  // 192 bytes
        return std::shared_ptr<const hg::data::face>(f);
    };
    hg::data::face_cache cache(192 * 2 + 100);
    CHECK(cache.insert(1, make(1)));
    CHECK(cache.insert(2, make(2)));
    REQUIRE(cache.find(1) != nullptr);  // 1 is now the most recent
    CHECK(cache.insert(3, make(3)));    // evicts 2
    CHECK(cache.contains(1));
    CHECK_FALSE(cache.contains(2));
    CHECK(cache.contains(3));
    auto s = cache.statistics();
    CHECK(s.bytes == 384);
    CHECK(s.entries == 2);
    CHECK(s.evictions == 1);
    CHECK(s.hits == 1);
    CHECK(cache.find(2) == nullptr);
    CHECK(cache.statistics().misses == 1);
    // A face larger than the whole budget is not kept and evicts nothing.
    auto big = std::make_shared<hg::data::face>();
    big->rgb = hg::tensor::zeros(hg::shape{16, 16, 3});
    CHECK_FALSE(cache.insert(4, big));
    CHECK(cache.statistics().entries == 2);
    // A held face survives eviction.
    auto held = cache.find(1);
    cache.clear();
    CHECK(held->rgb[0] == 1.0f);
    CHECK(cache.statistics().bytes == 0);
}

TEST_CASE("face_dataset: recursive, sorted, resized faces, bad files are skipped with a reason") {
    temp_dir dir;
    const fs::path root = dir / "faces";
    make_face(root / "b.png", 40, 1);
    make_face(root / "a.png", 24, 2);
    make_face(root / "sub" / "c.PNG", 64, 3);
    write_image(root / "sub" / "deeper" / "d.jpg", fmt::jpeg, 30, 30, 3, smooth_pixels(30, 30, 3));
    write_image(root / "e.bmp", fmt::bmp, 16, 20, 3, random_pixels(16, 20, 3, 4));
    write_image(root / "f.tga", fmt::tga, 12, 12, 4, random_pixels(12, 12, 4, 5));
    // The bad ones.
    const std::string text = "plain text with an image extension";
    write_bytes(root / "notimage.png", std::vector<unsigned char>(text.begin(), text.end()));
    make_face(root / "tiny.png", 1, 6);
    write_image(dir / "whole.jpg", fmt::jpeg, 40, 40, 3, smooth_pixels(40, 40, 3));
    auto jpg = read_bytes(dir / "whole.jpg");
    jpg.resize(jpg.size() * 2 / 3);
    write_bytes(root / "truncated.jpg", jpg);
    write_bytes(root / "bomb.png", png_declaring(100000, 100000));
    fs::create_symlink(root / "gone.png", root / "broken.png");
    write_bytes(root / "readme.txt", {'h', 'i'});  // not an image name: ignored, not skipped
    const bool can_lock = ::geteuid() != 0;  // root reads everything
    if (can_lock) {
        make_face(root / "locked.png", 16, 7);
        fs::permissions(root / "locked.png", fs::perms::none);
    }

    hg::data::dataset_options opts;
    opts.size = 16;
    opts.threads = 3;
    hg::data::face_dataset ds(root, opts);
    REQUIRE(ds.size() == 6);
    const std::vector<std::string> order{"a.png", "b.png", "e.bmp", "f.tga", "sub/c.PNG", "sub/deeper/d.jpg"};
    for (std::int64_t i = 0; i < ds.size(); ++i) CHECK(ds.path(i).lexically_relative(root).generic_string() == order[std::size_t(i)]);
    CHECK(ds.skipped_count() == (can_lock ? 6u : 5u));
    CHECK(ds.warnings().size() == ds.skipped_count());
    CHECK(has_reason(ds, "notimage.png", "header"));
    CHECK(has_reason(ds, "tiny.png", "1 x 1 pixels, smaller than the minimum side"));
    CHECK(has_reason(ds, "truncated.jpg", "end-of-image marker"));
    CHECK(has_reason(ds, "bomb.png", "max_pixels"));
    CHECK(has_reason(ds, "broken.png", "cannot read"));
    if (can_lock) CHECK(has_reason(ds, "locked.png", "cannot open"));
    // Warnings name the file.
    for (const auto& w : ds.warnings()) CHECK(w.find(root.string()) == 0);

    for (std::int64_t i = 0; i < ds.size(); ++i) {
        const auto f = ds.get(i);
        REQUIRE(f->rgb.shape() == hg::shape{16, 16, 3});
        for (std::int64_t k = 0; k < f->rgb.numel(); ++k) REQUIRE((f->rgb[k] >= 0.0f && f->rgb[k] <= 1.0f));
    }
    // The face is the area resize of the decoded file.
    const auto b = hg::data::load_image(root / "b.png");
    CHECK(ds.get(1)->rgb.to_vector() == hg::data::resize_area(b.rgb, 16, 16).to_vector());
    // Only f.tga has alpha: it becomes its mask (automatic); the others have none.
    CHECK(ds.get(3)->has_mask());
    CHECK_FALSE(ds.get(0)->has_mask());
    CHECK_THROWS_AS(ds.get(6), hg::value_error);
    CHECK_THROWS_AS(ds.get(-1), hg::value_error);
}

TEST_CASE("face_dataset: empty, missing, single-image and all-bad folders are errors") {
    temp_dir dir;
    fs::create_directories(dir / "empty");
    auto msg = error_of(dir / "empty");
    CHECK(msg.find("no image files") != std::string::npos);
    CHECK(msg.find("empty") != std::string::npos);

    CHECK(error_of(dir / "missing").find("does not exist") != std::string::npos);
    write_bytes(dir / "file.png", {1, 2, 3});
    CHECK(error_of(dir / "file.png").find("is not a folder") != std::string::npos);

    make_face(dir / "one" / "a.png", 16, 1);
    msg = error_of(dir / "one");
    CHECK(msg.find("1 usable face(s), at least 2") != std::string::npos);
    hg::data::dataset_options single;
    single.min_images = 1;
    CHECK(hg::data::face_dataset(dir / "one", single).size() == 1);

    make_face(dir / "bad" / "tiny.png", 2, 1);
    write_bytes(dir / "bad" / "junk.jpg", {0xFF, 0xD8, 0xFF, 0x00});
    msg = error_of(dir / "bad");
    CHECK(msg.find("0 usable face(s)") != std::string::npos);
    CHECK(msg.find("2 skipped") != std::string::npos);
    CHECK(msg.find("junk.jpg") != std::string::npos);  // the first reasons are quoted

    CHECK_THROWS_AS(hg::data::face_dataset(dir / "one", [] {
                        hg::data::dataset_options o;
                        o.size = 0;
                        return o;
                    }()),
                    hg::value_error);
}

TEST_CASE("face_dataset: masks from the masks/ folder, from alpha, required or off") {
    temp_dir dir;
    const fs::path root = dir / "faces";
    make_face(root / "x.png", 32, 1);
    make_face(root / "sub" / "y.png", 32, 2);
    make_face(root / "z.png", 32, 3, 4);  // RGBA
    write_random_png(root / "masks" / "x.png", 32, 32, 1, 10);
    write_random_png(root / "masks" / "sub" / "y.jpg", 32, 32, 1, 11);  // any image extension; PNG bytes
    hg::data::dataset_options opts;
    opts.size = 8;
    {
        hg::data::face_dataset ds(root, opts);  // automatic; masks/ is not searched for faces
        REQUIRE(ds.size() == 3);
        CHECK(ds.path(0).filename() == "y.png");
        CHECK(ds.mask_path(1).filename() == "x.png");
        const auto mx = hg::data::load_image(root / "masks" / "x.png");
        hg::tensor grey = hg::tensor::empty(hg::shape{32, 32, 1});
        for (std::int64_t i = 0; i < grey.numel(); ++i) grey[i] = mx.rgb[3 * i];
        const auto f = ds.get(1);
        REQUIRE(f->has_mask());
        REQUIRE(f->mask.shape() == hg::shape{8, 8, 1});
        const auto want = hg::data::resize_area(grey, 8, 8);
        for (std::int64_t i = 0; i < 64; ++i) CHECK(f->mask[i] == doctest::Approx(want[i]).epsilon(1e-6));
        CHECK(ds.get(0)->has_mask());
        const auto z = hg::data::load_image(root / "z.png");
        CHECK(ds.get(2)->mask.to_vector() == hg::data::resize_area(z.alpha, 8, 8).to_vector());
    }
    {
        opts.masks = hg::data::mask_source::folder;  // z has no mask file: skipped
        hg::data::face_dataset ds(root, opts);
        CHECK(ds.size() == 2);
        CHECK(has_reason(ds, "z.png", "no mask"));
    }
    {
        opts.masks = hg::data::mask_source::alpha;  // only z has alpha: x and y skipped, too few left
        CHECK(error_of(root, opts).find("1 usable face(s)") != std::string::npos);
    }
    {
        opts.masks = hg::data::mask_source::none;  // masks/ is then searched like any folder
        hg::data::face_dataset ds(root, opts);
        CHECK(ds.size() == 5);
        for (std::int64_t i = 0; i < ds.size(); ++i) CHECK_FALSE(ds.get(i)->has_mask());
    }
    {
        write_bytes(root / "masks" / "x.png", {1, 2, 3, 4});  // a broken mask skips its face
        opts.masks = hg::data::mask_source::automatic;
        hg::data::face_dataset ds(root, opts);
        CHECK(ds.size() == 2);
        CHECK(has_reason(ds, "x.png", "the mask of"));
    }
}

TEST_CASE("face_dataset: the cache keeps within budget and faces decode again when evicted") {
    temp_dir dir;
    for (int i = 0; i < 6; ++i) make_face(dir / numbered("f", i, ".png"), 20, std::uint64_t(i));
    hg::data::dataset_options opts;
    opts.size = 16;  // 16 * 16 * 3 floats = 3072 bytes per face
    opts.cache_bytes = 3072 * 2 + 1000;
    hg::data::face_dataset ds(dir.path(), opts);
    REQUIRE(ds.size() == 6);
    CHECK(ds.cache_stats().entries == 2);
    CHECK(ds.cache_stats().bytes <= opts.cache_bytes);
    std::vector<std::vector<float>> first;
    for (std::int64_t i = 0; i < 6; ++i) first.push_back(ds.get(i)->rgb.to_vector());
    for (std::int64_t i = 0; i < 6; ++i) CHECK(ds.get(i)->rgb.to_vector() == first[std::size_t(i)]);
    const auto s = ds.cache_stats();
    CHECK(s.bytes <= opts.cache_bytes);
    CHECK(s.entries == 2);
    CHECK(s.evictions > 0);
    // Repeated access to one face hits.
    const auto hits = s.hits;
    (void)ds.get(5);
    (void)ds.get(5);
    CHECK(ds.cache_stats().hits == hits + 2);

    opts.cache_bytes = 0;  // no cache: still correct
    hg::data::face_dataset none(dir.path(), opts);
    CHECK(none.cache_stats().entries == 0);
    CHECK(none.get(3)->rgb.to_vector() == first[3]);
}

TEST_CASE("face_dataset: the same folder gives the same faces with any thread count, and lazy verification") {
    temp_dir dir;
    for (int i = 0; i < 9; ++i) make_face(dir / numbered("d", i % 3) / numbered("f", i, ".png"), 18 + i, std::uint64_t(i));
    write_image(dir / "whole.jpg", fmt::jpeg, 40, 40, 3, smooth_pixels(40, 40, 3));
    auto jpg = read_bytes(dir / "whole.jpg");
    fs::remove(dir / "whole.jpg");
    jpg.resize(jpg.size() / 2);
    write_bytes(dir / "d1" / "t.jpg", jpg);
    hg::data::dataset_options one;
    one.size = 12;
    one.threads = 1;
    auto many = one;
    many.threads = 4;
    hg::data::face_dataset a(dir.path(), one), b(dir.path(), many);
    REQUIRE(a.size() == 9);
    REQUIRE(b.size() == 9);
    CHECK(a.warnings() == b.warnings());
    for (std::int64_t i = 0; i < 9; ++i) {
        CHECK(a.path(i) == b.path(i));
        CHECK(a.get(i)->rgb.to_vector() == b.get(i)->rgb.to_vector());
    }
    // Without verification only headers are read: the truncated JPEG is found when it is used.
    auto lazy = one;
    lazy.verify = false;
    hg::data::face_dataset c(dir.path(), lazy);
    REQUIRE(c.size() == 10);
    CHECK(c.cache_stats().entries == 0);
    std::int64_t bad = -1;
    for (std::int64_t i = 0; i < c.size(); ++i)
        if (c.path(i).filename() == "t.jpg") bad = i;
    REQUIRE(bad >= 0);
    CHECK_THROWS_AS(c.get(bad), hg::io_error);
    CHECK(c.get(0)->rgb.to_vector() == a.get(0)->rgb.to_vector());
}
