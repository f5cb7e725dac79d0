// A training cycle (hourglass/train/cycle.hpp) on a tiny autoencoder that trains in milliseconds:
// 8x8 faces of smooth random colours, one tiny model per side (each its own network), Adam 2e-2,
// checkpoints every 3 iterations. Used by the cycle's tests (test_train_cycle.cpp) and the
// data-parallel ones (test_train_distributed.cpp, tests/dist).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "hourglass/hourglass.hpp"

namespace hg::test {

constexpr int px = 8;
// 8x8x3 -> 4x4x8 -> 8x8x4 -> 8x8x3.
using tiny = hg::sequential<hg::conv2d<8, 3, 2>, hg::leaky_relu<0.1f>, hg::upscale<4>, hg::conv2d<3, 3>, hg::sigmoid>;
using tiny_model = hg::model<hg::cpu, tiny>;

/// Sample i of side `seed`: smooth random colours (a pure function of seed and i).
inline hg::data::sample_producer image_producer(std::uint64_t seed, int sleep_ms = 0) {
    return [seed, sleep_ms](std::int64_t i, std::uint64_t, const hg::data::sample_views& v) {
        if (sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
        hg::rng r(seed, static_cast<std::uint64_t>(i) + 1);
        const float base[3] = {r.uniform(0.2f, 0.8f), r.uniform(0.2f, 0.8f), r.uniform(0.2f, 0.8f)};
        for (int y = 0; y < px; ++y)
            for (int x = 0; x < px; ++x)
                for (int c = 0; c < 3; ++c)
                    v.input[(y * px + x) * 3 + c] = base[c] + 0.1f * r.uniform(-1.f, 1.f) + 0.02f * float(x - y);
        std::copy_n(v.input.data(), v.input.numel(), v.target.data());
    };
}

/// A cycle over one tiny model per side (each side its own network), side sizes as given.
struct tiny_run {
    hg::cpu be{1};
    std::vector<std::unique_ptr<tiny_model>> models;
    std::unique_ptr<hg::train::cycle<hg::cpu>> cycle;
    std::vector<std::string> log;

    tiny_run(const std::filesystem::path& folder, hg::train::stop_criteria stop, std::vector<std::int64_t> side_sizes = {24},
             std::int64_t batch = 4, std::function<void(hg::train::cycle<hg::cpu>&)> on_step = {}, int sleep_ms = 0,
             std::shared_ptr<hg::dist::communicator> comm = {}) {
        hg::train::cycle_options o;
        o.folder = folder;
        o.format = "tiny-test";
        o.batch = batch;
        o.stop = stop;
        o.save_every = 3;
        o.seed = 5;
        o.loader_threads = 1;
        o.optimizer.rule = hg::optim::adam(2e-2);
        o.loss_plot = false;
        o.comm = std::move(comm);
        std::vector<hg::train::network<hg::cpu>> networks;
        std::vector<hg::train::side<hg::cpu>> sides;
        for (std::size_t s = 0; s < side_sizes.size(); ++s) {
            const std::string name(1, static_cast<char>('a' + s));
            models.push_back(std::make_unique<tiny_model>(be, hg::shape{px, px, 3}, 3 + s, "net_" + name));
            networks.push_back({"net_" + name, &models.back()->params()});
            hg::train::side<hg::cpu> side;
            side.source.name = name;
            side.source.samples = side_sizes[s];
            side.source.height = side.source.width = px;
            side.source.producer = image_producer(100 + s, sleep_ms);
            side.task = std::make_unique<hg::train::autoencoder_task<hg::cpu, tiny_model, hg::losses::mse>>(*models.back(),
                                                                                                            hg::losses::mse());
            sides.push_back(std::move(side));
        }
        hg::train::cycle_events ev;
        ev.log = [this](const std::string& s) { log.push_back(s); };
        if (on_step) ev.on_step = [this, on_step] { on_step(*cycle); };
        cycle = std::make_unique<hg::train::cycle<hg::cpu>>(be, o, std::move(networks), std::move(sides), ev);
    }

    /// Every parameter of every model, concatenated.
    std::vector<float> weights() const {
        std::vector<float> w;
        for (const auto& m : models) {
            const auto& v = m->params().values();
            w.insert(w.end(), v.data(), v.data() + v.numel());
        }
        return w;
    }
};

inline hg::train::stop_criteria iterations(std::int64_t n) {
    hg::train::stop_criteria s;
    s.iterations = n;
    return s;
}

}  // namespace hg::test
