// hg::swap::find_learning_rate: the learning-rate finder (Smith, "Cyclical Learning Rates for
// Training Neural Networks", 2017, section 3.3; faceswap's lr_finder does the same). A throwaway
// copy of the model (same seed, so the same initial weights and batches as the real run) trains
// `steps` steps while the rate grows geometrically from min_lr to max_lr:
//     lr_k = min_lr * (max_lr / min_lr)^(k / (steps - 1)),   k = 0 .. steps - 1.
// The loss (the sum over the sides) is smoothed by a bias-corrected exponential mean,
//     m_k = beta m_{k-1} + (1 - beta) loss_k,   smoothed_k = m_k / (1 - beta^(k+1)),
// and the sweep stops early once the smoothed loss exceeds stop_factor (1.5) times its minimum (or
// a step is not finite): the rate has become too high. (Smith and fastai stop at 4x; the face
// losses here are bounded - sigmoid outputs in [0, 1] - and a diverged model's loss settles at
// about twice its best, so 4x would never stop the sweep.) The pick is the rate at the minimum of the
// smoothed loss divided by 10 (faceswap's 'default' strength): at the minimum the loss already
// falls most slowly, an order of magnitude below it still falls fast and stays stable.
//
// Deterministic for a seed on the CPU: the weights, the batches and the sweep are all fixed by it.
// The sweep runs in a temporary folder that is removed afterwards; the real model is not touched.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/swap/trainer.hpp"

namespace hg::swap {

struct lr_finder_options {
    double min_lr = 1e-6;
    double max_lr = 1e-1;
    std::int64_t steps = 100;
    double beta = 0.9;         ///< smoothing of the loss
    double stop_factor = 1.5;  ///< stop once the smoothed loss exceeds this times its minimum
    double divisor = 10.0;     ///< pick = the rate at the minimum / divisor

    void validate() const {
        if (!(min_lr > 0 && std::isfinite(min_lr) && max_lr > min_lr && std::isfinite(max_lr)))
            throw value_error("learning-rate finder: needs 0 < min_lr < max_lr, got " + std::to_string(min_lr) + " and " +
                              std::to_string(max_lr));
        if (steps < 10) throw value_error("learning-rate finder: needs at least 10 steps, got " + std::to_string(steps));
        if (!(beta >= 0 && beta < 1)) throw value_error("learning-rate finder: beta must be in [0, 1)");
        if (!(stop_factor > 1)) throw value_error("learning-rate finder: stop_factor must be > 1");
        if (!(divisor >= 1)) throw value_error("learning-rate finder: divisor must be >= 1");
    }
};

struct lr_finder_result {
    std::vector<double> lr, loss, smoothed;  ///< one entry per step run
    double best_lr = 0;                      ///< the rate at the minimum of the smoothed loss
    double picked = 0;                       ///< best_lr / divisor
    std::string stopped;                     ///< why the sweep ended
};

/// Runs the sweep for a trainer<B, Arch, Mask, K> built from (o, sides) (o's schedule is replaced
/// by the sweep; its seed, batch, loss and optimizer are kept).
template <class B, class Arch, bool Mask, int K = 2>
lr_finder_result find_learning_rate(B& be, train_options o, std::vector<side_data> sides, const lr_finder_options& f = {}) {
    f.validate();
    o.warmup = 0;
    o.cosine_steps = 0;
    o.stop = {};
    o.stop.iterations = f.steps;
    o.preview_every = -1;
    o.save_every = f.steps + 1;
    o.profile = o.profile_layers = false;
    o.tensorboard_dir.clear();
    o.timelapse_dir.clear();
    for (auto& s : sides) {  // no held-out scoring in the sweep
        s.holdout_faces = tensor();
        s.holdout_swaps.clear();
    }
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    const auto dir = std::filesystem::temp_directory_path() / ("hourglass-lr-finder-" + std::to_string(stamp));
    struct remove_dir {
        std::filesystem::path p;
        ~remove_dir() {
            std::error_code ec;
            std::filesystem::remove_all(p, ec);
        }
    } cleanup{dir};
    lr_finder_result r;
    trainer<B, Arch, Mask, K> t(be, o, std::move(sides), dir);
    double mean = 0, best = std::numeric_limits<double>::infinity();
    const double ratio = std::log(f.max_lr / f.min_lr);
    r.stopped = "reached max_lr";
    for (std::int64_t k = 0; k < f.steps; ++k) {
        const double lr = f.min_lr * std::exp(ratio * static_cast<double>(k) / static_cast<double>(f.steps - 1));
        t.cycle().set_learning_rate(lr);
        if (!t.step()) {
            r.stopped = "a step was not finite at lr " + std::to_string(lr);
            break;
        }
        double loss = 0;
        for (int s = 0; s < K; ++s) loss += t.last_loss(s);
        mean = f.beta * mean + (1 - f.beta) * loss;
        const double smoothed = mean / (1 - std::pow(f.beta, static_cast<double>(k + 1)));
        r.lr.push_back(lr);
        r.loss.push_back(loss);
        r.smoothed.push_back(smoothed);
        if (smoothed < best) {
            best = smoothed;
            r.best_lr = lr;
        }
        if (smoothed > f.stop_factor * best) {
            r.stopped = "the loss rose above " + std::to_string(f.stop_factor) + "x its minimum at lr " + std::to_string(lr);
            break;
        }
    }
    if (r.lr.empty() || !(r.best_lr > 0)) throw value_error("learning-rate finder: no step finished (" + r.stopped + ")");
    r.picked = r.best_lr / f.divisor;
    return r;
}

/// Writes the sweep as CSV (step, lr, loss, smoothed).
inline void write_lr_finder_csv(const std::filesystem::path& path, const lr_finder_result& r) {
    std::ofstream out(path, std::ios::trunc);
    out << "step,lr,loss,smoothed\n";
    char buf[128];
    for (std::size_t i = 0; i < r.lr.size(); ++i) {
        std::snprintf(buf, sizeof buf, "%zu,%.6e,%.6f,%.6f\n", i, r.lr[i], r.loss[i], r.smoothed[i]);
        out << buf;
    }
    if (!out) throw io_error("cannot write " + path.string());
}

}  // namespace hg::swap
