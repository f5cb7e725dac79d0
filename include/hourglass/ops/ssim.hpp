// Op contracts of SSIM (Wang et al. 2004) per channel with a separable Gaussian window, population
// statistics and the constants c1 = (k1 L)^2, c2 = (k2 L)^2 with data range L = 1 (the formulas are
// in math/ssim.hpp). Images x (prediction) and y (target) are NHWC [N, H, W, C] of equal shape,
// at least `window` pixels high and wide. Two forms:
//   valid  statistics only where the whole window fits: positions [0, H - size] x [0, W - size]
//          (the map is [N, H-size+1, W-size+1, C]); with size 11 and sigma 1.5 the mean equals
//          skimage's structural_similarity(gaussian_weights=True, use_sample_covariance=False), which
//          filters the whole image and crops 5 pixels from each border before the mean.
//   same   a same-size map: the window reads past the borders through scipy's 'reflect' padding
//          (half-sample symmetric, d c b a | a b c d), as skimage's full map does.
// Ops:
//   ssim_map       map [N, Ho, Wo, C] = the SSIM at every position (written)
//   ssim_stats     stats [N, C, 2]: per image and channel, the mean over the positions of the SSIM
//                  map (index 0) and of the contrast-structure map cs (index 1) (written)
//   ssim_backward  dx += d/dx of sum_{n,c} (a_nc mean(ssim_nc) + b_nc mean(cs_nc)), with (a, b) from
//                  coef [N, C, 2] when it is defined, else the constants (a, b) = (ssim_coef, cs_coef).
//                  Chain rule through the five statistics (G the window, G^T its transpose, which
//                  for 'same' folds the reflected taps back onto the pixels they read):
//                    dx = G^T * D_mx + 2 x (G^T * D_exx) + y (G^T * D_exy)
//                  where D_s(q) = (a dssim(q)/ds + b dcs(q)/ds) / positions (math::ssim_term_grads).
//   ssim_map_backward  dx += d/dx of sum_q dmap(q) ssim(q), dmap [N, Ho, Wo, C] (a per-position
//                  weight such as a mask: what a mask-weighted SSIM loss needs); the same chain rule.
//   ssim_combine   the losses' final step over S scales' stats [S, N, C, 2]: with t_s = cs of scale s
//                  for s < S-1 and the SSIM of the last scale, r = max(t, 0) when `clamp` (else t),
//                    value = value_scale * (1 - mean_{n,c} prod_s r_s^p_s)     (1 element, written)
//                    coef  = grad_scale * d(1 - mean prod)/d stats          ([S, N, C, 2], written
//                            when defined; zero for the unused entries and where r_s <= 0 clamped)
//                  S = 1, p = {1}, no clamp gives the single-scale loss 1 - mean SSIM.
#pragma once

#include "hourglass/core/config.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#if HG_CPU_OPS
#include "hourglass/cpu/backend.hpp"
#endif
#include "hourglass/math/ssim.hpp"
#include "hourglass/ops/check.hpp"

namespace hg {
class cuda;
}

namespace hg::ops {

enum class ssim_form { valid, same };

inline const char* to_string(ssim_form form) { return form == ssim_form::valid ? "valid" : "same"; }

/// Window and constants of one SSIM evaluation.
struct ssim_config {
    int window = 11;      ///< taps per axis, 1 to math::ssim_max_window
    double sigma = 1.5;   ///< Gaussian standard deviation in pixels
    double k1 = 0.01;     ///< c1 = k1^2 (data range 1)
    double k2 = 0.03;     ///< c2 = k2^2
    ssim_form form = ssim_form::valid;

    double c1() const { return k1 * k1; }
    double c2() const { return k2 * k2; }
    /// Map extent along an image axis of extent n.
    std::int64_t extent(std::int64_t n) const { return form == ssim_form::same ? n : n - window + 1; }
    shape map_shape(const shape& s) const { return shape{s.n(), extent(s.h()), extent(s.w()), s.c()}; }
};

namespace detail {

/// Checks the configuration, the image pair and the window against the image size.
template <class B, class T>
void check_ssim_inputs(const ssim_config& cfg, const basic_tensor<T>& x, const basic_tensor<T>& y, const char* op) {
    const std::string name(op);
    if (cfg.window < 1 || cfg.window > math::ssim_max_window)
        throw value_error(name + ": the window must have 1 to " + std::to_string(math::ssim_max_window) +
                          " taps, got " + std::to_string(cfg.window));
    if (!(cfg.sigma > 0.0) || !std::isfinite(cfg.sigma))
        throw value_error(name + ": sigma must be positive and finite, got " + std::to_string(cfg.sigma));
    if (!(cfg.k1 > 0.0) || !(cfg.k2 > 0.0) || !std::isfinite(cfg.k1) || !std::isfinite(cfg.k2))
        throw value_error(name + ": k1 and k2 must be positive and finite");
    check_arg<B>(x, x.shape(), op, "x");
    if (x.shape().rank() != 4 || x.numel() < 1)
        throw shape_error(name + ": argument 'x' must be a non-empty NHWC batch [N, H, W, C], got " + x.shape().str());
    check_arg<B>(y, x.shape(), op, "y");
    if (x.shape().h() < cfg.window || x.shape().w() < cfg.window)
        throw shape_error(name + ": the image " + x.shape().str() + " is smaller than the " +
                          std::to_string(cfg.window) + "x" + std::to_string(cfg.window) + " window");
}

}  // namespace detail

#if HG_CPU_OPS
namespace detail {

/// Per-axis tap index tables and the Gaussian taps of one SSIM evaluation on the CPU.
template <class T>
struct ssim_cpu_plan {
    int h, w, ho, wo, size;
    std::vector<T> taps;
    std::vector<int> iy, ix;  // [o * size + k]: the input row/column tap k of output o reads
    // Output columns [lo_x, hi_x) read columns o + k - shift_x without reflection.
    int shift_x = 0, lo_x = 0, hi_x = 0;

    ssim_cpu_plan(const ssim_config& cfg, const shape& s)
        : h(static_cast<int>(s.h())),
          w(static_cast<int>(s.w())),
          ho(static_cast<int>(cfg.extent(s.h()))),
          wo(static_cast<int>(cfg.extent(s.w()))),
          size(cfg.window) {
        for (double g : math::gaussian_taps(cfg.window, cfg.sigma)) taps.push_back(static_cast<T>(g));
        const bool same = cfg.form == ssim_form::same;
        for (int o = 0; o < ho; ++o)
            for (int k = 0; k < size; ++k) iy.push_back(math::ssim_source_index(same, o, k, size, h));
        for (int o = 0; o < wo; ++o)
            for (int k = 0; k < size; ++k) ix.push_back(math::ssim_source_index(same, o, k, size, w));
        shift_x = same ? (size - 1) / 2 : 0;
        lo_x = shift_x;
        hi_x = std::max(lo_x, same ? w - (size - 1 - shift_x) : wo);
        if (!same) lo_x = 0;
    }

    /// The five statistics (mx, my, exx, eyy, exy; each ho * wo) of channel c of image n.
    /// `planes` holds 5 * h * w elements of scratch, `rows` 5 * h * wo.
    void statistics(const T* x, const T* y, std::int64_t n, std::int64_t c, std::int64_t channels, T* planes,
                    T* rows, T* stats) const {
        const std::int64_t hw = std::int64_t{h} * w;
        for (std::int64_t p = 0; p < hw; ++p) {
            const T a = x[(n * hw + p) * channels + c], b = y[(n * hw + p) * channels + c];
            planes[p] = a;
            planes[hw + p] = b;
            planes[2 * hw + p] = a * a;
            planes[3 * hw + p] = b * b;
            planes[4 * hw + p] = a * b;
        }
        for (int s = 0; s < 5; ++s) {  // horizontal pass: [h, w] -> [h, wo]
            for (int i = 0; i < h; ++i) {
                const T* in = planes + s * hw + std::int64_t{i} * w;
                T* out = rows + (std::int64_t{s} * h + i) * wo;
                // Borders through the index table; the interior as contiguous, vectorisable
                // sweeps (the same sum in the same order of taps).
                for (int o = 0; o < wo; ++o) {
                    if (o == lo_x) o = hi_x;
                    if (o >= wo) break;
                    T acc = T(0);
                    const int* idx = ix.data() + std::int64_t{o} * size;
                    for (int k = 0; k < size; ++k) acc += taps[static_cast<std::size_t>(k)] * in[idx[k]];
                    out[o] = acc;
                }
                std::fill(out + lo_x, out + hi_x, T(0));
                for (int k = 0; k < size; ++k) {
                    const T g = taps[static_cast<std::size_t>(k)];
                    const T* src = in + k - shift_x;
                    for (int o = lo_x; o < hi_x; ++o) out[o] += g * src[o];
                }
            }
        }
        const std::int64_t out_plane = std::int64_t{ho} * wo;
        std::fill(stats, stats + 5 * out_plane, T(0));
        for (int s = 0; s < 5; ++s) {  // vertical pass: [h, wo] -> [ho, wo]
            for (int o = 0; o < ho; ++o) {
                T* out = stats + s * out_plane + std::int64_t{o} * wo;
                for (int k = 0; k < size; ++k) {
                    const T g = taps[static_cast<std::size_t>(k)];
                    const T* in = rows + (std::int64_t{s} * h + iy[static_cast<std::size_t>(o * size + k)]) * wo;
                    for (int j = 0; j < wo; ++j) out[j] += g * in[j];
                }
            }
        }
    }

    /// planes[m] (h * w) = G^T maps[m] (ho * wo) for m < 3; `rows` holds 3 * h * wo of scratch.
    void transpose_filter(const T* maps, T* rows, T* planes) const {
        const std::int64_t hw = std::int64_t{h} * w, out_plane = std::int64_t{ho} * wo;
        std::fill(rows, rows + 3 * std::int64_t{h} * wo, T(0));
        std::fill(planes, planes + 3 * hw, T(0));
        for (int m = 0; m < 3; ++m) {
            for (int o = 0; o < ho; ++o) {
                const T* in = maps + m * out_plane + std::int64_t{o} * wo;
                for (int k = 0; k < size; ++k) {
                    const T g = taps[static_cast<std::size_t>(k)];
                    T* out = rows + (std::int64_t{m} * h + iy[static_cast<std::size_t>(o * size + k)]) * wo;
                    for (int j = 0; j < wo; ++j) out[j] += g * in[j];
                }
            }
            for (int i = 0; i < h; ++i) {
                const T* in = rows + (std::int64_t{m} * h + i) * wo;
                T* out = planes + m * hw + std::int64_t{i} * w;
                for (int o = 0; o < wo; ++o) {
                    if (o == lo_x) o = hi_x;
                    if (o >= wo) break;
                    const int* idx = ix.data() + std::int64_t{o} * size;
                    for (int k = 0; k < size; ++k) out[idx[k]] += taps[static_cast<std::size_t>(k)] * in[o];
                }
                for (int k = 0; k < size; ++k) {
                    const T g = taps[static_cast<std::size_t>(k)];
                    T* dst = out + k - shift_x;
                    for (int o = lo_x; o < hi_x; ++o) dst[o] += g * in[o];
                }
            }
        }
    }

    std::size_t scratch_per_task() const {
        const std::size_t hw = static_cast<std::size_t>(h) * w;
        return 5 * hw + 5 * static_cast<std::size_t>(h) * wo + 5 * static_cast<std::size_t>(ho) * wo;
    }
};

/// Runs f(n, c, scratch) for every image and channel in parallel; scratch holds per_task elements.
template <class T, class F>
void for_each_plane(const cpu_backend<T>& be, const shape& s, std::size_t per_task, F&& f) {
    const std::int64_t tasks = s.n() * s.c();
    const int threads = static_cast<int>(std::min<std::int64_t>(be.threads(), tasks));
    T* scratch = be.scratch(per_task * static_cast<std::size_t>(std::max(threads, 1)));
    parallel_for(threads, threads, 1, [&](std::int64_t t) {
        for (std::int64_t task = tasks * t / threads; task < tasks * (t + 1) / threads; ++task)
            f(task / s.c(), task % s.c(), scratch + static_cast<std::size_t>(t) * per_task);
    });
}

}  // namespace detail

template <class T>
void ssim_map(const cpu_backend<T>& be, const ssim_config& cfg, const basic_tensor<T>& x, const basic_tensor<T>& y,
              const basic_tensor<T>& map) {
    detail::check_ssim_inputs<cpu_backend<T>>(cfg, x, y, "ssim_map");
    detail::check_arg<cpu_backend<T>>(map, cfg.map_shape(x.shape()), "ssim_map", "map");
    const detail::ssim_cpu_plan<T> plan(cfg, x.shape());
    const T c1 = static_cast<T>(cfg.c1()), c2 = static_cast<T>(cfg.c2());
    const std::int64_t channels = x.shape().c(), positions = std::int64_t{plan.ho} * plan.wo;
    T* out = map.data();
    detail::for_each_plane(be, x.shape(), plan.scratch_per_task(), [&](std::int64_t n, std::int64_t c, T* scratch) {
        T* planes = scratch;
        T* rows = planes + 5 * std::int64_t{plan.h} * plan.w;
        T* st = rows + 5 * std::int64_t{plan.h} * plan.wo;
        plan.statistics(x.data(), y.data(), n, c, channels, planes, rows, st);
        for (std::int64_t q = 0; q < positions; ++q) {
            T s, cs;
            math::ssim_terms(st[q], st[positions + q], st[2 * positions + q], st[3 * positions + q],
                             st[4 * positions + q], c1, c2, s, cs);
            out[(n * positions + q) * channels + c] = s;
        }
    });
}

template <class T>
void ssim_stats(const cpu_backend<T>& be, const ssim_config& cfg, const basic_tensor<T>& x, const basic_tensor<T>& y,
                const basic_tensor<T>& stats) {
    detail::check_ssim_inputs<cpu_backend<T>>(cfg, x, y, "ssim_stats");
    detail::check_arg<cpu_backend<T>>(stats, shape{x.shape().n(), x.shape().c(), 2}, "ssim_stats", "stats");
    const detail::ssim_cpu_plan<T> plan(cfg, x.shape());
    const T c1 = static_cast<T>(cfg.c1()), c2 = static_cast<T>(cfg.c2());
    const std::int64_t channels = x.shape().c(), positions = std::int64_t{plan.ho} * plan.wo;
    T* out = stats.data();
    detail::for_each_plane(be, x.shape(), plan.scratch_per_task(), [&](std::int64_t n, std::int64_t c, T* scratch) {
        T* planes = scratch;
        T* rows = planes + 5 * std::int64_t{plan.h} * plan.w;
        T* st = rows + 5 * std::int64_t{plan.h} * plan.wo;
        plan.statistics(x.data(), y.data(), n, c, channels, planes, rows, st);
        double sum_ssim = 0.0, sum_cs = 0.0;
        for (std::int64_t q = 0; q < positions; ++q) {
            T s, cs;
            math::ssim_terms(st[q], st[positions + q], st[2 * positions + q], st[3 * positions + q],
                             st[4 * positions + q], c1, c2, s, cs);
            sum_ssim += static_cast<double>(s);
            sum_cs += static_cast<double>(cs);
        }
        out[(n * channels + c) * 2] = static_cast<T>(sum_ssim / static_cast<double>(positions));
        out[(n * channels + c) * 2 + 1] = static_cast<T>(sum_cs / static_cast<double>(positions));
    });
}

namespace detail {

/// The CPU backward of ssim_backward and ssim_map_backward: dx += the chain rule of
/// sum_q (a(n, c, q) dssim(q) + b(n, c, q) dcs(q)), with coef_at(n, c, q, a, b) giving the weights.
template <class T, class Coef>
void cpu_ssim_backward(const cpu_backend<T>& be, const ssim_config& cfg, const basic_tensor<T>& x,
                       const basic_tensor<T>& y, const Coef& coef_at, const basic_tensor<T>& dx) {
    const ssim_cpu_plan<T> plan(cfg, x.shape());
    const T c1 = static_cast<T>(cfg.c1()), c2 = static_cast<T>(cfg.c2());
    const std::int64_t channels = x.shape().c(), positions = std::int64_t{plan.ho} * plan.wo;
    const std::int64_t hw = std::int64_t{plan.h} * plan.w;
    // The statistics' scratch is reused: the derivative maps (3 x positions) go where the statistics
    // were, the filtered maps (3 x hw) where the planes were.
    for_each_plane(be, x.shape(), plan.scratch_per_task(), [&](std::int64_t n, std::int64_t c, T* scratch) {
        T* planes = scratch;
        T* rows = planes + 5 * hw;
        T* st = rows + 5 * std::int64_t{plan.h} * plan.wo;
        plan.statistics(x.data(), y.data(), n, c, channels, planes, rows, st);
        for (std::int64_t q = 0; q < positions; ++q) {
            T a, b, d_mx, d_exx, d_exy;
            coef_at(n, c, q, a, b);
            math::ssim_term_grads(st[q], st[positions + q], st[2 * positions + q], st[3 * positions + q],
                                  st[4 * positions + q], c1, c2, a, b, d_mx, d_exx, d_exy);
            st[q] = d_mx;  // each statistic is read before its slot is overwritten
            st[positions + q] = d_exx;
            st[2 * positions + q] = d_exy;
        }
        plan.transpose_filter(st, rows, planes);
        const T* px = x.data();
        const T* py = y.data();
        T* pdx = dx.data();
        for (std::int64_t p = 0; p < hw; ++p) {
            const std::int64_t e = (n * hw + p) * channels + c;
            pdx[e] += planes[p] + T(2) * px[e] * planes[hw + p] + py[e] * planes[2 * hw + p];
        }
    });
}

}  // namespace detail

template <class T>
void ssim_backward(const cpu_backend<T>& be, const ssim_config& cfg, const basic_tensor<T>& x,
                   const basic_tensor<T>& y, const basic_tensor<T>& coef, double ssim_coef, double cs_coef,
                   const basic_tensor<T>& dx) {
    detail::check_ssim_inputs<cpu_backend<T>>(cfg, x, y, "ssim_backward");
    if (coef.defined())
        detail::check_arg<cpu_backend<T>>(coef, shape{x.shape().n(), x.shape().c(), 2}, "ssim_backward", "coef");
    detail::check_arg<cpu_backend<T>>(dx, x.shape(), "ssim_backward", "dx");
    const std::int64_t channels = x.shape().c();
    const T inv_positions = static_cast<T>(1.0 / static_cast<double>(cfg.extent(x.shape().h()) * cfg.extent(x.shape().w())));
    const T* k = coef.defined() ? coef.data() : nullptr;
    detail::cpu_ssim_backward(be, cfg, x, y, [&](std::int64_t n, std::int64_t c, std::int64_t, T& a, T& b) {
        a = (k ? k[(n * channels + c) * 2] : static_cast<T>(ssim_coef)) * inv_positions;
        b = (k ? k[(n * channels + c) * 2 + 1] : static_cast<T>(cs_coef)) * inv_positions;
    }, dx);
}

template <class T>
void ssim_map_backward(const cpu_backend<T>& be, const ssim_config& cfg, const basic_tensor<T>& x,
                       const basic_tensor<T>& y, const basic_tensor<T>& dmap, const basic_tensor<T>& dx) {
    detail::check_ssim_inputs<cpu_backend<T>>(cfg, x, y, "ssim_map_backward");
    detail::check_arg<cpu_backend<T>>(dmap, cfg.map_shape(x.shape()), "ssim_map_backward", "dmap");
    detail::check_arg<cpu_backend<T>>(dx, x.shape(), "ssim_map_backward", "dx");
    const std::int64_t channels = x.shape().c(), positions = dmap.shape().h() * dmap.shape().w();
    const T* w = dmap.data();
    detail::cpu_ssim_backward(be, cfg, x, y, [&](std::int64_t n, std::int64_t c, std::int64_t q, T& a, T& b) {
        a = w[(n * positions + q) * channels + c];
        b = T(0);
    }, dx);
}

#endif  // HG_CPU_OPS

namespace detail {

/// Checks of ssim_combine's arguments (shared by both backends).
template <class B, class T>
void check_ssim_combine(const basic_tensor<T>& stats, const std::vector<double>& powers, const basic_tensor<T>& value,
                        const basic_tensor<T>& coef) {
    check_arg<B>(stats, stats.shape(), "ssim_combine", "stats");
    if (stats.shape().rank() != 4 || stats.shape()[3] != 2 || stats.numel() < 1)
        throw shape_error("ssim_combine: argument 'stats' must be [S, N, C, 2], got " + stats.shape().str());
    if (static_cast<std::int64_t>(powers.size()) != stats.shape()[0])
        throw value_error("ssim_combine: " + std::to_string(powers.size()) + " powers for " +
                          std::to_string(stats.shape()[0]) + " scales");
    if (powers.size() > static_cast<std::size_t>(math::ssim_max_scales))
        throw value_error("ssim_combine: at most " + std::to_string(math::ssim_max_scales) + " scales");
    for (double p : powers)
        if (!(p > 0.0) || !std::isfinite(p)) throw value_error("ssim_combine: every power must be positive and finite");
    check_arg<B>(value, shape{1}, "ssim_combine", "value");
    if (coef.defined()) check_arg<B>(coef, stats.shape(), "ssim_combine", "coef");
}

}  // namespace detail

#if HG_CPU_OPS
template <class T>
void ssim_combine(const cpu_backend<T>& be, const basic_tensor<T>& stats, const std::vector<double>& powers,
                  bool clamp, double value_scale, const basic_tensor<T>& value, double grad_scale,
                  const basic_tensor<T>& coef) {
    (void)be;
    detail::check_ssim_combine<cpu_backend<T>>(stats, powers, value, coef);
    const int scales = static_cast<int>(stats.shape()[0]);
    const std::int64_t images = stats.shape()[1] * stats.shape()[2];
    const std::int64_t stride = images * 2;
    if (coef.defined()) coef.fill(T(0));
    double sum = 0.0;
    const double g = -grad_scale / static_cast<double>(images);
    for (std::int64_t i = 0; i < images; ++i) {
        double t[math::ssim_max_scales], dprod[math::ssim_max_scales];
        for (int s = 0; s < scales; ++s) t[s] = static_cast<double>(stats[s * stride + 2 * i + (s == scales - 1 ? 0 : 1)]);
        sum += math::ssim_combine_term(t, scales, powers.data(), clamp, dprod);
        if (coef.defined())
            for (int s = 0; s < scales; ++s)
                coef[s * stride + 2 * i + (s == scales - 1 ? 0 : 1)] = static_cast<T>(g * dprod[s]);
    }
    value[0] = static_cast<T>(value_scale * (1.0 - sum / static_cast<double>(images)));
}
#endif  // HG_CPU_OPS

// CUDA overloads (cuda/ssim.cu). Same contracts. ssim_map and ssim_stats make one pass over the
// images (statistics filtered in shared memory, terms, per-block partial sums; ssim_stats then
// adds a tiny kernel over the partials); ssim_backward and ssim_map_backward make two: one writes
// the three derivative maps D_mx, D_exx, D_exy, the second filters them with G^T and adds into dx.
void ssim_map(const cuda& be, const ssim_config& cfg, const tensor& x, const tensor& y, const tensor& map);
void ssim_stats(const cuda& be, const ssim_config& cfg, const tensor& x, const tensor& y, const tensor& stats);
void ssim_backward(const cuda& be, const ssim_config& cfg, const tensor& x, const tensor& y, const tensor& coef,
                   double ssim_coef, double cs_coef, const tensor& dx);
void ssim_map_backward(const cuda& be, const ssim_config& cfg, const tensor& x, const tensor& y, const tensor& dmap,
                       const tensor& dx);
void ssim_combine(const cuda& be, const tensor& stats, const std::vector<double>& powers, bool clamp,
                  double value_scale, const tensor& value, double grad_scale, const tensor& coef);

}  // namespace hg::ops
