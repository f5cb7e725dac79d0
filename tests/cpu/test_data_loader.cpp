// The batch loader: batch contents depend only on (seed, step) whatever the thread count and
// timing, epoch accounting (a permutation per epoch), resuming at a step, clean shutdown with a
// full queue or a slow producer, producer exceptions reaching next(), allocator use, bad options.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <chrono>
#include <cmath>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "hourglass/data/batch_loader.hpp"

namespace {

using hg::data::batch_loader;
using hg::data::batch_loader_options;
using hg::data::sample_views;

/// A producer that is a pure function of (index, seed), with optional random delays so threads
/// finish out of order.
hg::data::sample_producer pure_producer(bool jitter) {
    return [jitter](std::int64_t index, std::uint64_t seed, const sample_views& v) {
        if (jitter) {
            thread_local std::minstd_rand r(static_cast<unsigned>(std::hash<std::thread::id>{}(std::this_thread::get_id())));
            std::this_thread::sleep_for(std::chrono::microseconds(r() % 300));
        }
        hg::rng g(seed, static_cast<std::uint64_t>(index));
        for (std::int64_t i = 0; i < v.input.numel(); ++i) v.input[i] = g.uniform();
        for (std::int64_t i = 0; i < v.target.numel(); ++i) v.target[i] = float(index) + 0.5f;
        if (v.mask.defined())
            for (std::int64_t i = 0; i < v.mask.numel(); ++i) v.mask[i] = float(seed % 1000) / 1000.0f;
    };
}

batch_loader_options small_options(std::int64_t samples, std::int64_t batch, std::uint64_t seed) {
    batch_loader_options o;
    o.samples = samples;
    o.batch_size = batch;
    o.height = 5;
    o.width = 3;
    o.channels = 3;
    o.mask_channels = 1;
    o.seed = seed;
    return o;
}

struct snapshot {
    std::vector<float> input, target, mask;
    std::vector<std::int64_t> indices;
    std::int64_t epoch;
    bool completes;
    bool operator==(const snapshot&) const = default;
};

std::vector<snapshot> run(batch_loader_options o, int threads, int prefetch, bool jitter, int steps) {
    o.threads = threads;
    o.prefetch = prefetch;
    batch_loader loader(o, pure_producer(jitter));
    std::vector<snapshot> out;
    for (int k = 0; k < steps; ++k) {
        const auto b = loader.next();
        REQUIRE(b.step == o.first_step + k);
        out.push_back({b.input.to_vector(), b.target.to_vector(), b.mask.to_vector(), b.indices, b.epoch, b.completes_epoch});
    }
    return out;
}

}  // namespace

TEST_CASE("batch_loader: batches depend only on (seed, step), not on threads or timing") {
    const auto o = small_options(13, 4, 42);
    const auto ref = run(o, 1, 1, false, 12);
    CHECK(run(o, 4, 3, true, 12) == ref);
    CHECK(run(o, 3, 8, true, 12) == ref);
    CHECK(run(o, 2, 2, true, 12) == ref);
    // Another seed (the other side of the model) gives another sequence.
    auto other = o;
    other.seed = 43;
    CHECK_FALSE(run(other, 2, 2, false, 12) == ref);
    // Resuming at step 5 continues the same sequence.
    auto resumed = o;
    resumed.first_step = 5;
    const auto tail = run(resumed, 3, 4, true, 7);
    for (int k = 0; k < 7; ++k) CHECK(tail[std::size_t(k)] == ref[std::size_t(k + 5)]);
    // Two loaders (sides A and B) side by side.
    auto b_side = o;
    b_side.seed = 7;
    batch_loader la(o, pure_producer(true)), lb(b_side, pure_producer(true));
    for (int k = 0; k < 4; ++k) {
        const auto a = la.next();
        const auto b = lb.next();
        CHECK(a.input.to_vector() == ref[std::size_t(k)].input);
        CHECK(b.step == k);
    }
}

TEST_CASE("batch_loader: every epoch is a permutation, reshuffled per epoch") {
    const std::int64_t n = 10, bs = 4;
    auto o = small_options(n, bs, 3);
    batch_loader loader(o, pure_producer(false));
    CHECK(loader.steps_per_epoch() == 3);
    std::vector<std::int64_t> sequence;
    std::vector<bool> completes;
    for (int k = 0; k < 15; ++k) {  // 60 samples: 6 epochs
        const auto b = loader.next();
        CHECK(b.epoch == (k * bs) / n);
        completes.push_back(b.completes_epoch);
        for (std::int64_t j = 0; j < bs; ++j) {
            CHECK(b.indices[std::size_t(j)] == loader.sample_index(k * bs + j));
            CHECK(b.target[j * 5 * 3 * 3] == float(b.indices[std::size_t(j)]) + 0.5f);  // the producer saw that index
            CHECK(b.seeds[std::size_t(j)] == loader.sample_seed(k * bs + j));
        }
        sequence.insert(sequence.end(), b.indices.begin(), b.indices.end());
    }
    std::set<std::vector<std::int64_t>> orders;
    for (std::int64_t e = 0; e < 6; ++e) {
        std::vector<std::int64_t> epoch(sequence.begin() + e * n, sequence.begin() + (e + 1) * n);
        orders.insert(epoch);
        std::sort(epoch.begin(), epoch.end());
        for (std::int64_t i = 0; i < n; ++i) REQUIRE(epoch[std::size_t(i)] == i);
    }
    CHECK(orders.size() >= 5);  // shuffled anew (two equal orders of 10 are possible but rare)
    // Samples 9, 19, 29, ... (last of each epoch) are in steps 2, 4, 7, 9, 12, 14.
    const std::vector<bool> want{false, false, true, false, true, false, false, true, false, true, false, false, true, false, true};
    CHECK(completes == want);

    o.shuffle = false;
    batch_loader plain(o, pure_producer(false));
    for (int k = 0; k < 5; ++k) {
        const auto b = plain.next();
        for (std::int64_t j = 0; j < bs; ++j) CHECK(b.indices[std::size_t(j)] == (k * bs + j) % n);
    }
}

TEST_CASE("batch_loader: the destructor returns promptly with a full queue or a slow producer") {
    std::atomic<int> produced{0};
    {
        auto o = small_options(100, 2, 1);
        o.threads = 3;
        o.prefetch = 3;
        batch_loader loader(o, [&](std::int64_t, std::uint64_t, const sample_views& v) {
            v.input.fill(0.f);
            ++produced;
        });
        (void)loader.next();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the queue is full now
    }
    CHECK(produced.load() <= 2 * (1 + 3));  // never ran past the window of prefetch batches
    const auto start = std::chrono::steady_clock::now();
    {
        auto o = small_options(100, 64, 1);
        o.threads = 2;
        batch_loader loader(o, [](std::int64_t, std::uint64_t, const sample_views&) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }  // workers stop between samples, not at the end of a 64-sample batch
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(500));
    { batch_loader never_used(small_options(5, 2, 1), pure_producer(false)); }
}

TEST_CASE("batch_loader: a producer exception reaches next() for its step, and every later call") {
    auto o = small_options(20, 4, 9);
    o.threads = 3;
    const std::int64_t bad_index = 13;
    batch_loader loader(o, [&](std::int64_t index, std::uint64_t seed, const sample_views& v) {
        if (index == bad_index) throw hg::io_error("cannot load face 13");
        pure_producer(false)(index, seed, v);
    });
    std::int64_t bad_step = -1;
    for (std::int64_t p = 0; bad_step < 0; ++p)
        if (loader.sample_index(p) == bad_index) bad_step = p / 4;
    for (std::int64_t k = 0; k < bad_step; ++k) CHECK(loader.next().step == k);
    for (int again = 0; again < 2; ++again) {
        try {
            (void)loader.next();
            FAIL("next() did not throw");
        } catch (const hg::io_error& e) {
            CHECK(std::string(e.what()) == "cannot load face 13");
        }
    }
    CHECK(loader.step() == bad_step);
}

TEST_CASE("batch_loader: buffers come from the allocator once and views stay valid until retained runs out") {
    std::atomic<int> calls{0};
    auto o = small_options(8, 2, 5);
    o.prefetch = 2;
    o.retained = 2;
    o.allocate = [&](const hg::shape& s) {
        ++calls;
        return hg::tensor::empty(s);
    };
    {
        batch_loader loader(o, pure_producer(false));
        const auto first = loader.next();
        const auto second = loader.next();
        for (int k = 0; k < 6; ++k) (void)loader.next();
        CHECK(first.input.shape() == hg::shape{2, 5, 3, 3});
        CHECK(first.mask.shape() == hg::shape{2, 5, 3, 1});
        CHECK(second.step == 1);
        CHECK(calls.load() == (2 + 2) * 3);  // ring of prefetch + retained, input/target/mask each
    }
    {
        calls = 0;
        o.retained = 2;
        batch_loader loader(o, pure_producer(false));
        const auto first = loader.next();
        const auto copy = first.input.to_vector();
        (void)loader.next();  // one more call: `first` is still retained
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // workers fill all they may
        CHECK(first.input.to_vector() == copy);
    }
    // pinned_allocator uses pinned_host() when the backend has it, ordinary memory otherwise.
    struct fake_pinned_backend {
        mutable int calls = 0;
        hg::tensor pinned_host(const hg::shape& s) const {
            ++calls;
            return hg::tensor::empty(s);
        }
    } pinned;
    struct plain_backend {
    } plain;
    o.allocate = hg::data::pinned_allocator(pinned);
    o.mask_channels = 0;
    {
        batch_loader loader(o, pure_producer(false));
        CHECK_FALSE(loader.next().mask.defined());
    }
    CHECK(pinned.calls == (2 + 2) * 2);
    o.allocate = hg::data::pinned_allocator(plain);
    CHECK(batch_loader(o, pure_producer(false)).next().input.shape() == hg::shape{2, 5, 3, 3});
}

TEST_CASE("batch_loader: bad options and allocators are errors") {
    auto o = small_options(8, 2, 5);
    auto with = [&](auto change) {
        auto c = o;
        change(c);
        return c;
    };
    CHECK_THROWS_AS(batch_loader(with([](auto& c) { c.samples = 0; }), pure_producer(false)), hg::value_error);
    CHECK_THROWS_AS(batch_loader(with([](auto& c) { c.batch_size = 0; }), pure_producer(false)), hg::value_error);
    CHECK_THROWS_AS(batch_loader(with([](auto& c) { c.threads = 0; }), pure_producer(false)), hg::value_error);
    CHECK_THROWS_AS(batch_loader(with([](auto& c) { c.prefetch = 0; }), pure_producer(false)), hg::value_error);
    CHECK_THROWS_AS(batch_loader(with([](auto& c) { c.width = 0; }), pure_producer(false)), hg::value_error);
    CHECK_THROWS_AS(batch_loader(with([](auto& c) { c.first_step = -1; }), pure_producer(false)), hg::value_error);
    CHECK_THROWS_AS(batch_loader(o, nullptr), hg::value_error);
    CHECK_THROWS_AS(batch_loader(with([](auto& c) { c.allocate = [](const hg::shape&) { return hg::tensor::empty(hg::shape{1}); }; }),
                                 pure_producer(false)),
                    hg::device_error);
}
