// hg::layer_profile: forward and backward time of every layer of the models that run while it is
// active (train --profile layers), with the rate each layer reaches against its FLOP count.
//
// The sequential container times each of its leaf layers (a nested sequential, such as an upscale
// block, is not timed as a whole: its own layers are) when a profile is active on the calling
// thread (layer_profile_scope). Each timed call first waits for the backend and waits again at
// its end, so asynchronous kernels land in the layer that queued them; that is why the profile is
// off by default: the waits cost time on a GPU. Layers are keyed by their path ("encoder/2:
// conv2d<256, 5, 2>"), so a shared encoder run for both sides adds both runs into one row.
//
// A convolution followed by its activation runs fused in forward (sequential.hpp): the fused
// call is timed in the convolution's row, and the activation's row has no forward time.
//
// FLOPs per call are the layer's forward FLOPs for the batch (layers/flops.hpp); backward counts
// 2x the forward FLOPs when the input gradient is written (input-gradient and weight-gradient
// passes, each the shape of the forward) and 1x when it is not (the first layer of a model).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace hg {

/// Time and FLOPs of one layer, summed over the profiled calls.
struct layer_timing {
    std::string path;  ///< the layer's path in its model, e.g. "encoder/2:conv2d<256, 5, 2>"
    double forward_seconds = 0, backward_seconds = 0;
    double forward_flops = 0, backward_flops = 0;
    std::int64_t forward_calls = 0, backward_calls = 0;
    bool fused_forward = false;  ///< forward ran fused into the previous layer (its time is there)
};

class layer_profile {
public:
    using clock = std::chrono::steady_clock;

    enum class pass { forward, backward };

    /// Adds one call of the layer at `path`: `seconds` of wall time for `flops` operations.
    void add(const std::string& path, pass p, double seconds, double flops) {
        layer_timing& t = row(path);
        if (p == pass::forward) {
            t.forward_seconds += seconds;
            t.forward_flops += flops;
            ++t.forward_calls;
        } else {
            t.backward_seconds += seconds;
            t.backward_flops += flops;
            ++t.backward_calls;
        }
    }

    /// Records that the layer at `path` ran its forward fused into the layer before it.
    void mark_fused(const std::string& path) { row(path).fused_forward = true; }

    /// The layers in the order they first ran.
    const std::vector<layer_timing>& rows() const { return rows_; }

    /// Seconds in all layers, forward and backward.
    double total_seconds() const {
        double s = 0;
        for (const auto& r : rows_) s += r.forward_seconds + r.backward_seconds;
        return s;
    }

    void clear() {
        rows_.clear();
        index_.clear();
    }

    /// The per-layer table: mean ms per iteration forward and backward, the share of all layer
    /// time, and GFLOP/s (blank for layers without arithmetic worth counting).
    std::string table(std::int64_t iterations) const {
        std::string out;
        if (rows_.empty() || iterations < 1) return "layer profile: no layer ran\n";
        const double per_iter = 1e3 / static_cast<double>(iterations);
        const double total = total_seconds();
        std::size_t width = 5;
        for (const auto& r : rows_) width = std::max(width, r.path.size());
        width = std::min<std::size_t>(width, 72);
        char buf[256];
        std::snprintf(buf, sizeof buf,
                      "layer profile over %lld iterations (backend synchronized around each layer):\n",
                      static_cast<long long>(iterations));
        out += buf;
        std::snprintf(buf, sizeof buf, "  %-*s  %9s %9s %6s %9s %9s\n", static_cast<int>(width), "layer", "fwd ms",
                      "bwd ms", "%", "fwd GF/s", "bwd GF/s");
        out += buf;
        auto rate = [](double flops, double seconds) -> std::string {
            if (flops <= 0 || seconds <= 0) return "-";
            char b[32];
            std::snprintf(b, sizeof b, "%.1f", flops / seconds * 1e-9);
            return b;
        };
        for (const auto& r : rows_) {
            const std::string name = r.path.size() > width ? "..." + r.path.substr(r.path.size() - width + 3) : r.path;
            const std::string fwd = r.fused_forward && r.forward_calls == 0 ? "fused" : fixed(r.forward_seconds * per_iter);
            const double share = total > 0 ? 100.0 * (r.forward_seconds + r.backward_seconds) / total : 0.0;
            std::snprintf(buf, sizeof buf, "  %-*s  %9s %9s %6.1f %9s %9s\n", static_cast<int>(width), name.c_str(),
                          fwd.c_str(), fixed(r.backward_seconds * per_iter).c_str(), share,
                          rate(r.forward_flops, r.forward_seconds).c_str(),
                          rate(r.backward_flops, r.backward_seconds).c_str());
            out += buf;
        }
        double fwd = 0, bwd = 0, ffl = 0, bfl = 0;
        for (const auto& r : rows_) {
            fwd += r.forward_seconds;
            bwd += r.backward_seconds;
            ffl += r.forward_flops;
            bfl += r.backward_flops;
        }
        std::snprintf(buf, sizeof buf, "  %-*s  %9s %9s %6.1f %9s %9s\n", static_cast<int>(width), "all layers",
                      fixed(fwd * per_iter).c_str(), fixed(bwd * per_iter).c_str(), 100.0, rate(ffl, fwd).c_str(),
                      rate(bfl, bwd).c_str());
        out += buf;
        return out;
    }

private:
    static std::string fixed(double ms) {
        char b[32];
        std::snprintf(b, sizeof b, "%.2f", ms);
        return b;
    }

    layer_timing& row(const std::string& path) {
        auto it = index_.find(path);
        if (it != index_.end()) return rows_[it->second];
        index_.emplace(path, rows_.size());
        rows_.push_back(layer_timing{});
        rows_.back().path = path;
        return rows_.back();
    }

    std::vector<layer_timing> rows_;
    std::unordered_map<std::string, std::size_t> index_;
};

namespace detail {

/// The profile the calling thread's layers report to (null: none, the default).
inline layer_profile*& active_layer_profile() {
    thread_local layer_profile* active = nullptr;
    return active;
}

/// Waits for the backend's queued work when it has any (hg::cuda); nothing on the CPU.
template <class B>
void wait_for_backend(B& be) {
    if constexpr (requires { be.synchronize(); }) be.synchronize();
}

}  // namespace detail

/// Makes `p` the calling thread's active layer profile for the scope's life (null: none).
class layer_profile_scope {
public:
    explicit layer_profile_scope(layer_profile* p) : previous_(detail::active_layer_profile()) {
        detail::active_layer_profile() = p;
    }
    ~layer_profile_scope() { detail::active_layer_profile() = previous_; }
    layer_profile_scope(const layer_profile_scope&) = delete;
    layer_profile_scope& operator=(const layer_profile_scope&) = delete;

private:
    layer_profile* previous_;
};

}  // namespace hg
