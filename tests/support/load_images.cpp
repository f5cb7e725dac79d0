// Loads each image file named on the command line with hg::data::load_image and prints one line per
// file: its size and channels, or the io_error's message. Exits 0 when every file either loaded or
// was refused with hg::io_error, 1 otherwise. Run under valgrind by ctest (valgrind_image_findings)
// on the inputs of tests/data/fuzz-findings.
#include <cstdio>
#include <exception>

#include "hourglass/data/image_io.hpp"

int main(int argc, char** argv) {
    int rc = 0;
    for (int i = 1; i < argc; ++i) {
        try {
            const hg::data::image img = hg::data::load_image(argv[i]);
            double sum = 0;  // touch every value, so valgrind sees any uninitialised one used
            for (std::int64_t k = 0; k < img.rgb.numel(); ++k) sum += img.rgb[k];
            std::printf("%s: %lld x %lld, %d channels, mean %.6f\n", argv[i], static_cast<long long>(img.width()),
                        static_cast<long long>(img.height()), img.source_channels, sum / double(img.rgb.numel()));
        } catch (const hg::io_error& e) {
            std::printf("%s: refused: %s\n", argv[i], e.what());
        } catch (const std::exception& e) {
            std::printf("%s: UNEXPECTED %s\n", argv[i], e.what());
            rc = 1;
        }
    }
    return rc;
}
