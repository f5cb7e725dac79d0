// hourglass-autoencoder: the smallest complete use of the library. It generates 32x32 RGB images
// (soft coloured discs on gradient backgrounds, deterministic by seed), trains a small convolutional
// autoencoder on them on the CPU backend with the library's mean-squared-error loss
// (hg::losses::mse) and SGD with momentum (hg::optim), and prints the training loss and the loss on
// held-out images as they fall.
//
//   hourglass-autoencoder [--steps N] [--batch B] [--lr LR] [--seed S] [--threads T]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
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

struct options {
    int steps = 1000;
    int batch = 16;
    float lr = 0.05f;
    std::uint64_t seed = 1;
    int threads = 0;
};

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw hg::value_error("option " + arg + " needs a value");
            return argv[++i];
        };
        if (arg == "--steps") o.steps = std::stoi(value());
        else if (arg == "--batch") o.batch = std::stoi(value());
        else if (arg == "--lr") o.lr = std::stof(value());
        else if (arg == "--seed") o.seed = std::stoull(value());
        else if (arg == "--threads") o.threads = std::stoi(value());
        else if (arg == "--help" || arg == "-h") {
            std::printf("usage: hourglass-autoencoder [--steps N] [--batch B] [--lr LR] [--seed S] [--threads T]\n");
            std::exit(0);
        } else
            throw hg::value_error("unknown option " + arg + " (try --help)");
    }
    if (o.steps < 1 || o.batch < 1 || !(o.lr > 0.f) || !std::isfinite(o.lr) || o.threads < 0)
        throw hg::value_error("--steps and --batch must be >= 1, --lr positive and finite, --threads >= 0");
    return o;
}

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

}  // namespace

int main(int argc, char** argv) {
    try {
        const options o = parse(argc, argv);
        hg::cpu be(o.threads);
        hg::model<hg::cpu, autoencoder> net(be, hg::shape{image_size, image_size, 3}, o.seed, "autoencoder");
        std::printf("autoencoder: %lld parameters, %d threads, batch %d, %d steps\n",
                    static_cast<long long>(net.parameter_count()), be.threads(), o.batch, o.steps);

        // SGD with momentum over the flat parameter buffer: v = 0.9 v + g; w -= lr v. The NaN guard
        // is on: a step with a non-finite gradient is skipped and counted, never applied.
        hg::optim::settings settings;
        settings.rule = hg::optim::sgd(o.lr, 0.9);
        hg::optim::optimizer<hg::cpu> opt(net, settings);
        const hg::losses::mse mse;
        auto value = be.empty(hg::shape{1});
        auto loss_of = [&](const hg::tensor& y, const hg::tensor& x) {
            mse.forward(be, y, x, value);
            return hg::losses::detail::read_scalar(be, value);
        };

        const std::uint64_t held_out_first = 1u << 30;  // images never used for training
        const auto held_out = make_batch(o.seed, held_out_first, 64);
        auto eval = [&]() { return loss_of(net.forward(held_out), held_out); };
        const double initial = eval();
        std::printf("step %5d  held-out loss %.5f\n", 0, initial);

        auto dy = be.empty(hg::shape{o.batch, image_size, image_size, 3});
        const auto start = std::chrono::steady_clock::now();
        double last_eval = initial;
        for (int step = 1; step <= o.steps; ++step) {
            const auto x = make_batch(o.seed, static_cast<std::uint64_t>(step) * o.batch, o.batch);
            const hg::tensor& y = net.forward(x);
            const double loss = loss_of(y, x);
            if (!std::isfinite(loss)) throw hg::error("training diverged: the loss is not finite at step " + std::to_string(step));
            hg::ops::fill(be, dy, 0.f);
            mse.backward(be, y, x, 1.0, dy);  // dy = dL/dy (backward adds into dy)
            net.zero_grad();
            net.backward(dy);
            opt.step();
            if (step % 100 == 0 || step == o.steps) {
                last_eval = eval();
                const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                std::printf("step %5d  train loss %.5f  held-out loss %.5f  (%.1f steps/s)\n", step, loss, last_eval,
                            step / seconds);
            }
        }
        std::printf("held-out loss fell from %.5f to %.5f (%.1fx lower)\n", initial, last_eval, initial / last_eval);
        if (opt.skipped_steps() > 0)
            std::printf("%lld steps skipped for a non-finite gradient\n", static_cast<long long>(opt.skipped_steps()));
        return last_eval < initial ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "hourglass-autoencoder: %s\n", e.what());
        return 2;
    }
}
