// Test media built from a real photograph: the astronaut portrait that Debian's python3-skimage
// ships (Eileen Collins, NASA, public domain), moved through known similarity transforms frame by
// frame, so that extraction's recovered alignment can be compared with the truth; and the scratch
// folder the media tests write into. Used by the media suite (tests/media), its benchmark and the
// extract command's end-to-end check (examples/faceswap).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/core/rng.hpp"
#include "hourglass/data/image_io.hpp"
#include "hourglass/data/transform.hpp"

namespace hg_test_media {

/// A fresh folder under the system's temporary folder (named after `prefix`, the process and a
/// counter), removed with everything in it at the end (its permissions restored first, for tests
/// that lock it).
struct temp_folder {
    std::filesystem::path path;
    explicit temp_folder(const std::string& prefix = "hg_media_test") {
        static std::atomic<int> n{0};
        path = std::filesystem::temp_directory_path() / (prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~temp_folder() {
        std::error_code ec;
        std::filesystem::permissions(path, std::filesystem::perms::owner_all, ec);
        std::filesystem::remove_all(path, ec);
    }
    temp_folder(const temp_folder&) = delete;
    temp_folder& operator=(const temp_folder&) = delete;
    std::filesystem::path operator/(const std::string& name) const { return path / name; }
    /// The names in the folder, sorted.
    std::vector<std::string> entries() const {
        std::vector<std::string> names;
        for (const auto& e : std::filesystem::directory_iterator(path)) names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }
};

/// The astronaut portrait (512 x 512 RGB), from HG_TEST_ASTRONAUT or skimage's installed data.
inline std::filesystem::path astronaut_path() {
#ifdef HG_TEST_ASTRONAUT
    std::filesystem::path p = HG_TEST_ASTRONAUT;
#else
    std::filesystem::path p = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png";
#endif
    if (p.empty() || !std::filesystem::is_regular_file(p)) {
        std::string msg = "the astronaut portrait (astronaut.png of Debian's python3-skimage) was not found at '";
        msg += p.string();
        msg += "'; install python3-skimage (scripts/setup.sh does)";
        throw hg::io_error(msg);
    }
    return p;
}

/// The folder of Debian python3-imageio's sample videos (cockatoo.mp4, realshort.mp4).
inline std::filesystem::path imageio_videos() {
#ifdef HG_TEST_IMAGEIO_VIDEOS
    std::filesystem::path p = HG_TEST_IMAGEIO_VIDEOS;
#else
    std::filesystem::path p = "/usr/lib/python3/dist-packages/imageio/resources/images";
#endif
    if (p.empty() || !std::filesystem::is_regular_file(p / "cockatoo.mp4")) {
        std::string msg = "the sample videos of Debian's python3-imageio were not found at '";
        msg += p.string();
        msg += "'; install python3-imageio (scripts/setup.sh does)";
        throw hg::io_error(msg);
    }
    return p;
}

/// The centre of the astronaut's face in the photograph (between the eyes and the mouth), pixels.
inline constexpr double face_x = 222.0, face_y = 128.0;

/// A similarity transform of the photograph into a frame: rotate by `degrees` (counter-clockwise
/// on screen) and scale by `scale` about the face centre, then move the face centre to (cx, cy).
struct pose {
    double degrees = 0, scale = 1, cx = 320, cy = 180;

    /// Photograph pixels -> frame pixels (pixel centres at integers).
    hg::data::affine2 matrix() const {
        const double t = degrees * 3.14159265358979323846 / 180.0;
        const double a = scale * std::cos(t), b = scale * std::sin(t);
        // [a b; -b a] rotates counter-clockwise on screen (y points down), as cv2.getRotationMatrix2D.
        return hg::data::affine2{a, b, cx - (a * face_x + b * face_y), -b, a, cy - (-b * face_x + a * face_y)};
    }
};

/// The photograph through `p` into a width x height frame (bilinear; grey 0.5 outside the photo),
/// plus uniform pixel noise in [-noise, noise] (0..1 units) when given, seeded by `seed`.
inline hg::tensor render(const hg::tensor& photo, const pose& p, std::int64_t width, std::int64_t height, float noise = 0.0f,
                         std::uint64_t seed = 0) {
    const std::int64_t ph = photo.shape()[0], pw = photo.shape()[1];
    const hg::data::affine2 inv = hg::data::inverse(p.matrix());
    hg::tensor out = hg::tensor::empty(hg::shape{height, width, 3});
    hg::rng r(seed, 17);
    for (std::int64_t y = 0; y < height; ++y)
        for (std::int64_t x = 0; x < width; ++x) {
            const double sx = inv.a * double(x) + inv.b * double(y) + inv.c, sy = inv.d * double(x) + inv.e * double(y) + inv.f;
            const bool inside = sx >= 0 && sy >= 0 && sx <= double(pw - 1) && sy <= double(ph - 1);
            const auto tap = hg::data::bilinear_tap::at(float(sx), float(sy), ph, pw, 3);
            for (std::int64_t c = 0; c < 3; ++c) {
                float v = inside ? tap.sample(photo.data(), c) : 0.5f;
                if (noise > 0) v += r.uniform(-noise, noise);
                out.data()[(y * width + x) * 3 + c] = std::clamp(v, 0.0f, 1.0f);
            }
        }
    return out;
}

/// The poses of the moving-face test video: frame k of n sweeps rotation from -20 to +20 degrees,
/// scale from 1.0 to 1.3 and back, and moves the face across the frame.
inline std::vector<pose> moving_poses(int n, std::int64_t width = 640, std::int64_t height = 360) {
    std::vector<pose> out;
    for (int k = 0; k < n; ++k) {
        const double u = n > 1 ? double(k) / double(n - 1) : 0.5;  // 0 .. 1
        pose p;
        p.degrees = -20.0 + 40.0 * u;
        p.scale = 1.0 + 0.3 * std::sin(3.14159265358979323846 * u);
        p.cx = double(width) * (0.35 + 0.3 * u);
        p.cy = double(height) * (0.45 + 0.1 * std::sin(6.283185307179586 * u));
        out.push_back(p);
    }
    return out;
}

}  // namespace hg_test_media
