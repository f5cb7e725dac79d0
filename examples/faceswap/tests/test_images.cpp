// faceswap_test_images: the image chores of hourglass-swap's command-line tests, which CMake
// scripts cannot do themselves.
//   faceswap_test_images faces DIR IDENTITY COUNT SIZE SEED
//       writes DIR/face_000.png ... : COUNT synthetic faces (data::synthetic_face_set) of SIZE px
//   faceswap_test_images check WIDTH HEIGHT FILE...
//       decodes every FILE completely (data::load_image) and checks its size (0 0: any size);
//       exit 1 naming the first file that does not decode or has another size
//   faceswap_test_images cut FILE
//       truncates FILE to half its size (a file cut short by a crash or a full disk)
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <system_error>

#include "hourglass/hourglass.hpp"

namespace {

std::int64_t number(const char* s) {
    char* end = nullptr;
    const long long v = std::strtoll(s, &end, 10);
    if (end == s || *end != '\0') throw hg::value_error(std::string("not an integer: '") + s + "'");
    return v;
}

int faces(const std::filesystem::path& dir, std::int64_t identity, std::int64_t count, std::int64_t size,
          std::int64_t seed) {
    const hg::data::synthetic_face_set set{static_cast<std::uint64_t>(identity), size, count, static_cast<std::uint64_t>(seed)};
    std::filesystem::create_directories(dir);
    for (std::int64_t i = 0; i < count; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "face_%03lld.png", static_cast<long long>(i));
        hg::data::save_png(dir / name, set.sample(i).image);
    }
    return 0;
}

int check(std::int64_t width, std::int64_t height, int n, char** files) {
    for (int i = 0; i < n; ++i) {
        const auto img = hg::data::load_image(files[i]);
        if ((width > 0 || height > 0) && (img.width() != width || img.height() != height)) {
            std::fprintf(stderr, "faceswap_test_images: %s is %lld x %lld, expected %lld x %lld\n", files[i],
                         static_cast<long long>(img.width()), static_cast<long long>(img.height()),
                         static_cast<long long>(width), static_cast<long long>(height));
            return 1;
        }
    }
    return 0;
}

int cut(const std::filesystem::path& file) {
    const auto size = std::filesystem::file_size(file);
    std::filesystem::resize_file(file, size / 2);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string cmd = argc > 1 ? argv[1] : "";
    try {
        if (cmd == "faces" && argc == 7) return faces(argv[2], number(argv[3]), number(argv[4]), number(argv[5]), number(argv[6]));
        if (cmd == "check" && argc >= 5) return check(number(argv[2]), number(argv[3]), argc - 4, argv + 4);
        if (cmd == "cut" && argc == 3) return cut(argv[2]);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "faceswap_test_images %s: %s\n", cmd.c_str(), e.what());
        return 1;
    }
    std::fputs("usage: faceswap_test_images faces DIR IDENTITY COUNT SIZE SEED | check WIDTH HEIGHT FILE... | cut FILE\n",
               stderr);
    return 2;
}
