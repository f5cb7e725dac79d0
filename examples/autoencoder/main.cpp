// hourglass-autoencoder: the smallest complete use of the library's training cycle. It generates
// 32x32 RGB images (soft coloured discs on gradient backgrounds, deterministic by seed), and trains
// a small convolutional autoencoder on them with hg::train::cycle on the CPU backend: the
// mean-squared-error loss (hg::losses::mse), SGD with momentum (hg::optim), checkpoints and the loss
// log in the --out folder (a second run resumes there), and the stop criteria of the library
// (iterations, epochs, a loss target, a time limit, Ctrl-C). It prints the loss on held-out images
// before and after.
//
//   hourglass-autoencoder [--out DIR] [--iterations N] [--epochs E] [--target-loss L]
//                         [--time-limit 10m] [--batch B] [--lr LR] [--samples N] [--seed S] [--threads T]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <limits>
#include <memory>
#include <string>

#include "hourglass/hourglass.hpp"

namespace {

// 32x32x3 -> 8x8x32 code -> 32x32x3.
using autoencoder = hg::sequential<hg::conv2d<16, 3, 2>, hg::leaky_relu<0.1f>,  // 16x16x16
                                   hg::conv2d<32, 3, 2>, hg::leaky_relu<0.1f>,  // 8x8x32
                                   hg::upscale<16>,                             // 16x16x16
                                   hg::upscale<8>,                              // 32x32x8
                                   hg::conv2d<3, 3>, hg::sigmoid>;              // 32x32x3

constexpr int image_size = 32;

/// Image `index` of the generated set: a soft-edged disc of one colour on a two-colour gradient.
void render_image(std::uint64_t seed, std::uint64_t index, float* out) {
    hg::rng r(seed, index + 1);
    const float cx = r.uniform(8.f, 24.f), cy = r.uniform(8.f, 24.f), radius = r.uniform(4.f, 10.f);
    float disc[3], top[3], bottom[3];
    for (int c = 0; c < 3; ++c) disc[c] = r.uniform(0.1f, 0.9f), top[c] = r.uniform(0.1f, 0.9f),
                               bottom[c] = r.uniform(0.1f, 0.9f);
    for (int y = 0; y < image_size; ++y)
        for (int x = 0; x < image_size; ++x) {
            const float d = std::sqrt((x + 0.5f - cx) * (x + 0.5f - cx) + (y + 0.5f - cy) * (y + 0.5f - cy));
            const float inside = std::clamp(radius - d + 0.5f, 0.f, 1.f);  // one-pixel anti-aliased edge
            const float t = static_cast<float>(y) / (image_size - 1);
            for (int c = 0; c < 3; ++c) {
                const float background = (1.f - t) * top[c] + t * bottom[c];
                out[(y * image_size + x) * 3 + c] = inside * disc[c] + (1.f - inside) * background;
            }
        }
}

hg::tensor make_batch(std::uint64_t seed, std::uint64_t first, int count) {
    auto t = hg::tensor::empty(hg::shape{count, image_size, image_size, 3});
    for (int i = 0; i < count; ++i) render_image(seed, first + static_cast<std::uint64_t>(i), t.data() + i * image_size * image_size * 3);
    return t;
}

struct options {
    std::string out = "hourglass-autoencoder-run";
    std::int64_t iterations = 1000;
    double epochs = 0;
    double target_loss = std::numeric_limits<double>::quiet_NaN();
    std::int64_t target_window = 50;
    std::string time_limit;
    std::int64_t batch = 16;
    double lr = 0.05;
    std::int64_t samples = 4096;
    std::uint64_t seed = 1;
    int threads = 0;
};

}  // namespace

int main(int argc, char** argv) {
    options o;
    CLI::App app{"hourglass-autoencoder: trains a small convolutional autoencoder on generated 32x32 images "
                 "with the library's training cycle (checkpoints and losses.csv in --out; a second run resumes)"};
    app.add_option("--out", o.out, "Model folder: checkpoints, losses.csv, loss.png")->capture_default_str();
    app.add_option("--iterations", o.iterations,
                   "Stop after this many iterations (0: no iteration limit; 1000 unless --epochs, --target-loss or "
                   "--time-limit is given)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    app.add_option("--epochs", o.epochs, "Stop after this many passes over the --samples images")->check(CLI::PositiveNumber);
    app.add_option("--target-loss", o.target_loss, "Stop when the mean loss of the last --target-window iterations is <= this")
        ->check(CLI::PositiveNumber);
    app.add_option("--target-window", o.target_window, "Iterations in the loss target's moving mean")
        ->capture_default_str()
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{1000000}));
    app.add_option("--time-limit", o.time_limit, "Stop after this long, e.g. 90s, 10m, 1h30m");
    app.add_option("--batch", o.batch, "Images per iteration")->capture_default_str()->check(CLI::Range(std::int64_t{1}, std::int64_t{4096}));
    app.add_option("--lr", o.lr, "SGD learning rate (momentum 0.9)")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--samples", o.samples, "Training images (an epoch is one pass over them)")
        ->capture_default_str()
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 30));
    app.add_option("--seed", o.seed, "Image set and initialisation seed")->capture_default_str();
    app.add_option("--threads", o.threads, "CPU threads (0: all)")->capture_default_str()->check(CLI::NonNegativeNumber);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        hg::cpu be(o.threads);
        hg::model<hg::cpu, autoencoder> net(be, hg::shape{image_size, image_size, 3}, o.seed, "autoencoder");

        hg::train::cycle_options co;
        co.folder = o.out;
        co.format = "hourglass-autoencoder";
        co.header["example"] = "autoencoder";
        co.header["samples"] = o.samples;
        co.batch = o.batch;
        const bool other_limit = app.count("--epochs") || app.count("--target-loss") || app.count("--time-limit");
        co.stop.iterations = app.count("--iterations") || !other_limit ? o.iterations : 0;
        co.stop.epochs = o.epochs;
        co.stop.target_loss = o.target_loss;
        co.stop.target_window = o.target_window;
        if (!o.time_limit.empty()) co.stop.time_limit_seconds = hg::train::parse_duration(o.time_limit);
        co.save_every = 500;
        co.preview_every = -1;
        co.seed = o.seed;
        co.loader_threads = 1;
        // SGD with momentum over the flat parameter buffer: v = 0.9 v + g; w -= lr v. The NaN guard
        // is on: a step with a non-finite gradient is skipped, never applied.
        co.optimizer.rule = hg::optim::sgd(o.lr, 0.9);

        // One side: the generated images, each its own target.
        std::vector<hg::train::side<hg::cpu>> sides(1);
        sides[0].source.name = "images";
        sides[0].source.samples = o.samples;
        sides[0].source.height = sides[0].source.width = image_size;
        const std::uint64_t seed = o.seed;
        sides[0].source.producer = [seed](std::int64_t i, std::uint64_t, const hg::data::sample_views& v) {
            render_image(seed, static_cast<std::uint64_t>(i), v.input.data());
            std::copy_n(v.input.data(), v.input.numel(), v.target.data());
        };
        sides[0].task = std::make_unique<hg::train::autoencoder_task<hg::cpu, decltype(net), hg::losses::mse>>(net, hg::losses::mse());

        hg::train::cycle<hg::cpu>* running = nullptr;  // set below; on_step runs only inside run()
        hg::train::cycle_events events;
        events.log = [](const std::string& s) { std::printf("%s\n", s.c_str()); };
        events.on_step = [&running] {
            const auto& c = *running;
            if (c.iteration() % 100 == 0)
                std::printf("iteration %6lld  epoch %6.2f  loss %.5f  (mean of the last %lld: %.5f)\n",
                            static_cast<long long>(c.iteration()), c.epoch(), c.last_loss(0),
                            static_cast<long long>(c.options().stop.target_window), c.smoothed_loss(0));
        };
        const auto start = std::chrono::steady_clock::now();
        hg::train::cycle<hg::cpu> cycle(be, co, {{"autoencoder", &net.params()}}, std::move(sides), events);
        running = &cycle;
        const std::int64_t first = cycle.iteration();

        const hg::losses::mse mse;
        auto value = be.empty(hg::shape{1});
        const std::uint64_t held_out_first = 1u << 30;  // images never used for training
        const auto held_out = make_batch(o.seed, held_out_first, 64);
        auto eval = [&]() {
            mse.forward(be, net.forward(held_out), held_out, value);
            return hg::losses::detail::read_scalar(be, value);
        };
        const double initial = eval();
        std::printf("autoencoder: %lld parameters, %d threads, batch %lld, %lld images; %s at iteration %lld; held-out loss %.5f\n",
                    static_cast<long long>(net.parameter_count()), be.threads(), static_cast<long long>(o.batch),
                    static_cast<long long>(o.samples), cycle.resumed() ? "resumed" : "starting",
                    static_cast<long long>(first), initial);
        const auto stopped = cycle.run(&hg::train::install_stop_signals());
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const double final_loss = eval();
        std::printf("%s\n", stopped.message.c_str());
        std::printf("%lld iterations in %.1f s; training loss %.5f; held-out loss %.5f -> %.5f; model in %s\n",
                    static_cast<long long>(cycle.iteration() - first), seconds, cycle.last_loss(0), initial, final_loss,
                    o.out.c_str());
        return 0;
    } catch (const hg::value_error& e) {
        std::fprintf(stderr, "hourglass-autoencoder: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "hourglass-autoencoder: %s\n", e.what());
        return 1;
    }
}
