// Fixtures of the face-swap trainer tests (tests/cpu/test_swap_trainer.cpp and the hourglass-swap
// commands test): a temporary folder removed at the end, one identity's synthetic faces as a
// trainer side, and the options of a small 'micro' run.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "hourglass/hourglass.hpp"
#include "hourglass/swap/trainer.hpp"

namespace hg::test {

/// A fresh folder under the system's temporary folder, named after `prefix`, `name` and the process;
/// removed (with its contents) by the destructor.
struct temp_dir {
    std::filesystem::path path;
    temp_dir(const std::string& prefix, const std::string& name)
        : path(std::filesystem::temp_directory_path() / (prefix + "_" + name + "_" + std::to_string(::getpid()))) {
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
};

/// 24 synthetic 32 px faces of `identity` (augmented, with face/eye/mouth masks) as a trainer side,
/// the first two as preview faces.
inline swap::side_data synthetic_side(std::uint64_t identity, std::uint64_t seed) {
    const data::synthetic_face_set set{identity, 32, 24, seed};
    swap::side_data s;
    s.producer = data::augmented_producer(set);
    s.samples = set.count;
    s.mask_channels = 3;
    s.preview_faces = data::synthetic_images(set, 0, 2);
    return s;
}

/// 'micro' at batch 4, Adam 1e-3, a checkpoint every 3 iterations, stopping at `iterations`.
inline swap::train_options micro_options(bool mask, std::int64_t iterations) {
    swap::train_options o;
    o.architecture = "micro";
    o.mask = mask;
    o.batch = 4;
    o.stop.iterations = iterations;
    o.save_every = 3;
    o.preview_every = 100;
    o.lr = 1e-3;
    o.seed = 7;
    return o;
}

template <bool Mask>
using micro_trainer = swap::trainer<cpu, swap::micro, Mask>;

}  // namespace hg::test
