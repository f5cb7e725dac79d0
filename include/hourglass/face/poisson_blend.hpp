// Seamless pasting by Poisson image editing (P. Perez, M. Gangnet, A. Blake, "Poisson image
// editing", ACM SIGGRAPH 2003): poisson_blend(source, destination, mask) on [H, W, C] float CPU
// images of one size and an [H, W, 1] mask.
//
// Problem. The region is Omega = { p : mask(p) > 0.5 }. Inside it the result f has the gradients of
// the guidance field v, and on its border it takes the destination's values f*:
//     min_f  sum_{<p,q>, p in Omega} (f_p - f_q - v_pq)^2   with f_q = f*_q for q outside Omega,
// whose normal equations are Perez et al.'s discrete Poisson equation (their eq. 7), for p in Omega:
//     |N_p| f_p - sum_{q in N_p and Omega} f_q = sum_{q in N_p \ Omega} f*_q + sum_{q in N_p} v_pq,
// N_p the 4-neighbours of p INSIDE the image (so the image edge is a natural, Neumann, boundary).
// Guidance: v_pq = g_p - g_q (g the source: "importing gradients"), or with mixed gradients
// v_pq = f*_p - f*_q where |f*_p - f*_q| > |g_p - g_q|, else g_p - g_q (their eq. 13), which keeps
// the destination's texture where it is stronger than the source's.
// Pixels outside Omega are the destination's, bit for bit; pixels inside are the solution clamped
// to [0, 1]. A mask covering the whole image leaves no boundary (the solution would be defined up
// to a constant) and is refused, as is an empty one. Every connected part of a smaller Omega
// touches at least one destination pixel, so the system is symmetric positive definite.
//
// Solver. Conjugate gradients preconditioned by one multigrid V-cycle (MGCG), on the bounding box
// of Omega with a one-pixel ring, all channels at once (four per pass, one SIMD lane each, with
// their own CG step sizes). The multigrid is aggregation-based: the coarse unknowns are 2x2 blocks
// holding at least one unknown, prolongation P copies a block's value to its unknown pixels,
// restriction is P^T, and the coarse operator is A_c = 1/2 P^T A P (Galerkin, halved: piecewise
// constant aggregation overestimates the coarse Laplacian by 2, and the factor restores the usual
// 2h stencil; still symmetric positive definite). Since the aggregates are 2x2 blocks, A_c stays a
// 5-point stencil with weights on each level, which handles any mask shape and the image edge
// without special cases. Smoothing: one red-black Gauss-Seidel sweep (red, then black) before the
// coarse correction and the same in reverse after it, so the V-cycle is a symmetric positive
// definite preconditioner; the coarsest level (<= 64 unknowns) is solved exactly (dense Cholesky).
// Warm start: the source values (for imported gradients the solution is g plus a harmonic
// correction). Stopping rule: per channel ||b - A f||_2 <= tolerance * ||b||_2 (relative residual,
// default 1e-5, which keeps the result within about 1e-5 of the exact solution of the discrete
// equations on 256 x 256 regions; see docs/blending.md); a channel that reaches it keeps iterating
// only while others of its group have not.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/data/transform.hpp"

namespace hg::face {

struct poisson_options {
    /// Use Perez et al.'s mixed gradients (the stronger of source and destination on each edge).
    bool mixed_gradients = false;
    /// Relative residual ||b - A f||_2 / ||b||_2 at which each channel stops, in (0, 1).
    double tolerance = 1e-5;
    /// The most CG iterations; hg::error when a channel has not reached the tolerance by then.
    int max_iterations = 200;
};

/// What a solve did (filled when a pointer is passed).
struct poisson_stats {
    std::int64_t unknowns = 0;       ///< pixels in Omega
    int levels = 0;                  ///< multigrid levels
    int iterations = 0;              ///< CG iterations (the most over channel groups)
    double relative_residual = 0.0;  ///< the largest final ||r|| / ||b|| over channels
};

namespace poisson_detail {

using v4 = Eigen::Array4f;

/// Index of the first NaN or infinity among n floats, or -1 (an integer OR over the exponent bits,
/// which vectorises, and a second pass only when something is found).
inline std::int64_t first_non_finite(const float* v, std::int64_t n) {
    std::uint32_t any = 0;
    for (std::int64_t i = 0; i < n; ++i) any |= static_cast<std::uint32_t>((std::bit_cast<std::uint32_t>(v[i]) & 0x7f800000u) == 0x7f800000u);
    if (!any) return -1;
    for (std::int64_t i = 0; i < n; ++i)
        if (!std::isfinite(v[i])) return i;
    return -1;
}

/// One multigrid level: a (ny + 2) x (nx + 2) grid with a ring of ghost cells that are never
/// unknowns. A x (P) = d_P x_P - we_P x_E - we_W x_W - ws_P x_S - ws_N x_N, with d = 0 and all
/// weights 0 on cells that are not unknowns (so they stay 0 in every vector).
struct level {
    std::int64_t ny = 0, nx = 0, stride = 0;
    std::vector<float> d, inv_d, we, ws;
    std::vector<v4> x, b;  // the coarse levels' own vectors (the finest level works on CG's)
    std::int64_t unknowns = 0;

    std::size_t cells() const { return static_cast<std::size_t>((ny + 2) * stride); }
    void allocate(std::int64_t rows, std::int64_t cols) {
        ny = rows;
        nx = cols;
        stride = nx + 2;
        d.assign(cells(), 0.0f);
        inv_d.assign(cells(), 0.0f);
        we.assign(cells(), 0.0f);
        ws.assign(cells(), 0.0f);
    }
    void finish() {
        unknowns = 0;
        for (std::size_t k = 0; k < d.size(); ++k)
            if (d[k] > 0.0f) {
                inv_d[k] = 1.0f / d[k];
                ++unknowns;
            }
    }
    /// (A x)_k for an interior cell k.
    v4 product(const v4* v, std::int64_t k) const {
        const std::int64_t s = stride;
        return d[static_cast<std::size_t>(k)] * v[k] - we[static_cast<std::size_t>(k)] * v[k + 1] -
               we[static_cast<std::size_t>(k - 1)] * v[k - 1] - ws[static_cast<std::size_t>(k)] * v[k + s] -
               ws[static_cast<std::size_t>(k - s)] * v[k - s];
    }
};

/// y = A x on the interior of a level; returns x . y per lane.
inline Eigen::Array4d apply_dot(const level& L, const v4* x, v4* y) {
    Eigen::Array4d sum = Eigen::Array4d::Zero();
    for (std::int64_t i = 1; i <= L.ny; ++i) {
        v4 row = v4::Zero();  // float partial sums over one row, then double
        for (std::int64_t k = i * L.stride + 1; k <= i * L.stride + L.nx; ++k) {
            y[k] = L.product(x, k);
            row += x[k] * y[k];
        }
        sum += row.cast<double>();
    }
    return sum;
}

/// a . b per lane over the interior.
inline Eigen::Array4d dot(const level& L, const v4* a, const v4* b) {
    Eigen::Array4d sum = Eigen::Array4d::Zero();
    for (std::int64_t i = 1; i <= L.ny; ++i) {
        v4 row = v4::Zero();
        for (std::int64_t k = i * L.stride + 1; k <= i * L.stride + L.nx; ++k) row += a[k] * b[k];
        sum += row.cast<double>();
    }
    return sum;
}

/// One Gauss-Seidel half sweep over the cells with (i + j) % 2 == color. With `from_zero` the other
/// colour is known to be 0 (the first half sweep from a zero guess), so x = b / d.
inline void smooth(const level& L, const v4* b, v4* x, int color, bool from_zero) {
    const std::int64_t s = L.stride;
    const float *inv = L.inv_d.data(), *we = L.we.data(), *ws = L.ws.data();
    for (std::int64_t i = 1; i <= L.ny; ++i) {
        const std::int64_t j0 = ((i + 1) % 2 == color) ? 1 : 2, end = i * s + L.nx;
        if (from_zero)
            for (std::int64_t k = i * s + j0; k <= end; k += 2) x[k] = inv[k] * b[k];
        else
            for (std::int64_t k = i * s + j0; k <= end; k += 2)
                x[k] = inv[k] * (b[k] + we[k] * x[k + 1] + we[k - 1] * x[k - 1] + ws[k] * x[k + s] + ws[k - s] * x[k - s]);
    }
}

/// The next coarser level: 2x2 blocks, A_c = 1/2 P^T A P.
inline level coarsen(const level& f) {
    level c;
    c.allocate((f.ny + 1) / 2, (f.nx + 1) / 2);
    const std::int64_t fs = f.stride;
    for (std::int64_t I = 1; I <= c.ny; ++I)
        for (std::int64_t J = 1; J <= c.nx; ++J) {
            const std::size_t a = static_cast<std::size_t>((2 * I - 1) * fs + 2 * J - 1), b = a + 1,
                              cc = a + static_cast<std::size_t>(fs), e = cc + 1;  // a b / cc e
            const float dsum = f.d[a] + f.d[b] + f.d[cc] + f.d[e];
            if (dsum == 0.0f) continue;
            const float inner = f.we[a] + f.we[cc] + f.ws[a] + f.ws[b];
            const std::size_t K = static_cast<std::size_t>(I * c.stride + J);
            c.d[K] = 0.5f * (dsum - 2.0f * inner);
            c.we[K] = 0.5f * (f.we[b] + f.we[e]);
            c.ws[K] = 0.5f * (f.ws[cc] + f.ws[e]);
        }
    c.finish();
    c.x.assign(c.cells(), v4::Zero());
    c.b.assign(c.cells(), v4::Zero());
    return c;
}

/// The multigrid hierarchy and the dense factorisation of its coarsest level.
class multigrid {
public:
    static constexpr std::int64_t coarsest_unknowns = 64;

    explicit multigrid(level fine) {
        levels_.push_back(std::move(fine));
        while (levels_.back().unknowns > coarsest_unknowns && (levels_.back().ny > 1 || levels_.back().nx > 1))
            levels_.push_back(coarsen(levels_.back()));
        const level& L = levels_.back();
        for (std::int64_t k = 0; k < static_cast<std::int64_t>(L.d.size()); ++k)
            if (L.d[static_cast<std::size_t>(k)] > 0.0f) cells_.push_back(k);
        const std::int64_t n = static_cast<std::int64_t>(cells_.size());
        std::vector<std::int64_t> index(L.d.size(), -1);
        for (std::int64_t i = 0; i < n; ++i) index[static_cast<std::size_t>(cells_[static_cast<std::size_t>(i)])] = i;
        Eigen::MatrixXd a = Eigen::MatrixXd::Zero(n, n);
        for (std::int64_t i = 0; i < n; ++i) {
            const std::size_t k = static_cast<std::size_t>(cells_[static_cast<std::size_t>(i)]);
            a(i, i) = L.d[k];
            for (const std::size_t q : {k + 1, k + static_cast<std::size_t>(L.stride)}) {
                const float w = q == k + 1 ? L.we[k] : L.ws[k];
                const std::int64_t j = index[q];
                if (w != 0.0f && j >= 0) a(i, j) = a(j, i) = -static_cast<double>(w);
            }
        }
        coarse_.compute(a);
    }

    const level& fine() const { return levels_.front(); }
    int depth() const { return static_cast<int>(levels_.size()); }

    /// z = M^{-1} r: one symmetric V-cycle from a zero guess (finest-level vectors are the caller's).
    void precondition(const v4* r, v4* z) { cycle(0, r, z); }

private:
    void cycle(std::size_t l, const v4* b, v4* x) {
        const level& L = levels_[l];
        if (l + 1 == levels_.size()) {
            solve_coarsest(b, x);
            return;
        }
        smooth(L, b, x, 0, true);
        smooth(L, b, x, 1, false);
        // Coarse right-hand side P^T (b - A x).
        level& C = levels_[l + 1];
        const std::int64_t s = L.stride, cs = C.stride;
        std::fill(C.b.begin(), C.b.end(), v4::Zero());
        for (std::int64_t i = 1; i <= L.ny; ++i) {
            v4* crow = C.b.data() + ((i + 1) / 2) * cs;
            for (std::int64_t j = 1; j <= L.nx; ++j) {
                const std::int64_t k = i * s + j;
                crow[(j + 1) / 2] += b[k] - L.product(x, k);
            }
        }
        cycle(l + 1, C.b.data(), C.x.data());
        for (std::int64_t i = 1; i <= L.ny; ++i) {
            const v4* crow = C.x.data() + ((i + 1) / 2) * cs;
            for (std::int64_t j = 1; j <= L.nx; ++j) {
                const std::int64_t k = i * s + j;
                if (L.d[static_cast<std::size_t>(k)] > 0.0f) x[k] += crow[(j + 1) / 2];
            }
        }
        smooth(L, b, x, 1, false);
        smooth(L, b, x, 0, false);
    }

    void solve_coarsest(const v4* b, v4* x) {
        const std::int64_t n = static_cast<std::int64_t>(cells_.size());
        Eigen::MatrixXd rhs(n, 4);
        for (std::int64_t i = 0; i < n; ++i) rhs.row(i) = b[cells_[static_cast<std::size_t>(i)]].cast<double>().matrix().transpose();
        const Eigen::MatrixXd sol = coarse_.solve(rhs);
        for (std::int64_t i = 0; i < n; ++i) x[cells_[static_cast<std::size_t>(i)]] = sol.row(i).transpose().array().cast<float>();
    }

    std::vector<level> levels_;
    std::vector<std::int64_t> cells_;  // unknowns of the coarsest level
    Eigen::LLT<Eigen::MatrixXd> coarse_;
};

}  // namespace poisson_detail

/// The source pasted seamlessly into the destination over { mask > 0.5 } (see the file comment).
/// source and destination [H, W, C] of equal shape, mask [H, W, 1], all finite. Returns a new
/// [H, W, C] image. shape_error for mismatched shapes; value_error for non-finite values, an empty
/// mask or one that covers the whole image, or bad options; hg::error if the solver does not reach
/// the tolerance within max_iterations.
inline tensor poisson_blend(const tensor& source, const tensor& destination, const tensor& mask,
                            const poisson_options& options = {}, poisson_stats* stats = nullptr) {
    using namespace poisson_detail;
    constexpr const char* who = "face::poisson_blend";
    data::detail::require_image(source, who, "source", -1);
    data::detail::require_image(destination, who, "destination", -1);
    data::detail::require_image(mask, who, "mask", 1);
    if (source.shape() != destination.shape())
        throw shape_error(std::string(who) + ": the source " + source.shape().str() + " and the destination " +
                          destination.shape().str() + " differ in shape");
    if (mask.shape()[0] != source.shape()[0] || mask.shape()[1] != source.shape()[1])
        throw shape_error(std::string(who) + ": the mask " + mask.shape().str() + " does not cover the images " +
                          source.shape().str());
    if (!(options.tolerance > 0.0 && options.tolerance < 1.0))
        throw value_error(std::string(who) + ": the tolerance " + std::to_string(options.tolerance) + " is not in (0, 1)");
    if (options.max_iterations < 1)
        throw value_error(std::string(who) + ": max_iterations " + std::to_string(options.max_iterations) + " is not positive");
    for (const auto& [t, what] : {std::pair{&source, "source"}, std::pair{&destination, "destination"}, std::pair{&mask, "mask"}})
        if (const std::int64_t i = first_non_finite(t->data(), t->numel()); i >= 0)
            throw value_error(std::string(who) + ": the " + what + " has a non-finite value at element " + std::to_string(i));

    const std::int64_t h = source.shape()[0], w = source.shape()[1], c = source.shape()[2];
    const float* m = mask.data();
    std::int64_t count = 0, y0 = h, y1 = -1, x0 = w, x1 = -1;
    for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x)
            if (m[y * w + x] > 0.5f) {
                ++count;
                y0 = std::min(y0, y);
                y1 = std::max(y1, y);
                x0 = std::min(x0, x);
                x1 = std::max(x1, x);
            }
    if (count == 0) throw value_error(std::string(who) + ": the mask is empty (no value > 0.5)");
    if (count == h * w)
        throw value_error(std::string(who) + ": the mask covers the whole image, leaving no destination pixels for the boundary");

    // The fine level over the bounding box; cell (i, j) is image pixel (y0 - 1 + i, x0 - 1 + j).
    level fine;
    fine.allocate(y1 - y0 + 1, x1 - x0 + 1);
    const std::int64_t s = fine.stride;
    auto inside = [&](std::int64_t y, std::int64_t x) { return y >= 0 && y < h && x >= 0 && x < w; };
    auto in_omega = [&](std::int64_t y, std::int64_t x) { return inside(y, x) && m[y * w + x] > 0.5f; };
    for (std::int64_t i = 1; i <= fine.ny; ++i)
        for (std::int64_t j = 1; j <= fine.nx; ++j) {
            const std::int64_t y = y0 - 1 + i, x = x0 - 1 + j;
            if (!in_omega(y, x)) continue;
            const std::size_t k = static_cast<std::size_t>(i * s + j);
            fine.d[k] = static_cast<float>(inside(y - 1, x) + inside(y + 1, x) + inside(y, x - 1) + inside(y, x + 1));
            if (in_omega(y, x + 1)) fine.we[k] = 1.0f;
            if (in_omega(y + 1, x)) fine.ws[k] = 1.0f;
        }
    fine.finish();
    multigrid mg(std::move(fine));
    const level& L = mg.fine();

    tensor out = destination.clone();
    const float *g = source.data(), *fd = destination.data();
    float* dst = out.data();
    const std::size_t n = L.cells();
    // Per grid cell: 1 when it lies inside the image, 1 when it is a destination (boundary) pixel.
    std::vector<float> in_image(n, 0.0f), fixed(n, 0.0f);
    for (std::int64_t i = 0; i < L.ny + 2; ++i)
        for (std::int64_t j = 0; j < s; ++j) {
            const std::int64_t y = y0 - 1 + i, x = x0 - 1 + j;
            if (!inside(y, x)) continue;
            in_image[static_cast<std::size_t>(i * s + j)] = 1.0f;
            fixed[static_cast<std::size_t>(i * s + j)] = m[y * w + x] > 0.5f ? 0.0f : 1.0f;
        }
    // CG vectors over the finest grid; cells that are not unknowns stay 0 in all of them. gs and fs
    // hold the source and destination over the whole grid, ring included.
    std::vector<v4> b(n, v4::Zero()), u(n, v4::Zero()), r(n, v4::Zero()), z(n, v4::Zero()), p(n, v4::Zero()), ap(n, v4::Zero());
    std::vector<v4> gs(n, v4::Zero()), fs(n, v4::Zero());
    poisson_stats st;
    st.unknowns = count;
    st.levels = mg.depth();

    for (std::int64_t c0 = 0; c0 < c; c0 += 4) {
        const std::int64_t lanes = std::min<std::int64_t>(4, c - c0);
        if (lanes < 4) {  // unused lanes stay 0 (and converge at once)
            std::fill(gs.begin(), gs.end(), v4::Zero());
            std::fill(fs.begin(), fs.end(), v4::Zero());
        }
        for (std::int64_t i = 0; i < L.ny + 2; ++i)
            for (std::int64_t j = 0; j < s; ++j) {
                const std::size_t k = static_cast<std::size_t>(i * s + j);
                if (in_image[k] == 0.0f) continue;
                const std::int64_t q = ((y0 - 1 + i) * w + (x0 - 1 + j)) * c + c0;
                for (std::int64_t l = 0; l < lanes; ++l) {
                    gs[k][l] = g[q + l];
                    fs[k][l] = fd[q + l];
                }
            }
        // Right-hand side b_p = sum over in-image neighbours q of v_pq (+ f*_q outside Omega); warm start u = g.
        for (std::int64_t i = 1; i <= L.ny; ++i)
            for (std::int64_t k = i * s + 1; k <= i * s + L.nx; ++k) {
                const std::size_t kk = static_cast<std::size_t>(k);
                if (L.d[kk] == 0.0f) continue;
                v4 sum = v4::Zero();
                for (const std::int64_t q : {k - s, k + s, k - 1, k + 1}) {
                    const std::size_t qq = static_cast<std::size_t>(q);
                    v4 v = gs[kk] - gs[qq];
                    if (options.mixed_gradients) {
                        const v4 vd = fs[kk] - fs[qq];
                        v = (vd.abs() > v.abs()).select(vd, v);
                    }
                    sum += in_image[qq] * v + fixed[qq] * fs[qq];
                }
                b[kk] = sum;
                u[kk] = gs[kk];
            }
        // Preconditioned conjugate gradients, one step size per lane.
        const Eigen::Array4d bnorm = dot(L, b.data(), b.data()).sqrt();
        apply_dot(L, u.data(), ap.data());
        for (std::size_t k = 0; k < n; ++k) r[k] = b[k] - ap[k];
        auto relative = [&](const Eigen::Array4d& rr) {
            return (bnorm > 0.0).select(rr.sqrt() / bnorm.max(1e-300), Eigen::Array4d::Zero());
        };
        Eigen::Array4d rel = relative(dot(L, r.data(), r.data()));
        int it = 0;
        if ((rel > options.tolerance).any()) {
            mg.precondition(r.data(), z.data());
            p = z;
            Eigen::Array4d rz = dot(L, r.data(), z.data());
            for (;;) {
                if (it == options.max_iterations)
                    throw error(std::string(who) + ": no convergence in " + std::to_string(it) + " iterations (relative residual " +
                                std::to_string(rel.maxCoeff()) + ", tolerance " + std::to_string(options.tolerance) + ")");
                ++it;
                const Eigen::Array4d pap = apply_dot(L, p.data(), ap.data());
                const v4 alpha = (pap > 0.0).select(rz / pap.max(1e-300), Eigen::Array4d::Zero()).cast<float>();
                Eigen::Array4d rr = Eigen::Array4d::Zero();
                for (std::int64_t i = 1; i <= L.ny; ++i) {
                    v4 row = v4::Zero();
                    for (std::int64_t k = i * s + 1; k <= i * s + L.nx; ++k) {
                        const std::size_t kk = static_cast<std::size_t>(k);
                        u[kk] += alpha * p[kk];
                        r[kk] -= alpha * ap[kk];
                        row += r[kk] * r[kk];
                    }
                    rr += row.cast<double>();
                }
                rel = relative(rr);
                if ((rel <= options.tolerance).all()) break;
                mg.precondition(r.data(), z.data());
                const Eigen::Array4d rz_new = dot(L, r.data(), z.data());
                const v4 beta = (rz > 0.0).select(rz_new / rz.max(1e-300), Eigen::Array4d::Zero()).cast<float>();
                rz = rz_new;
                for (std::size_t k = 0; k < n; ++k) p[k] = z[k] + beta * p[k];
            }
        }
        st.iterations = std::max(st.iterations, it);
        st.relative_residual = std::max(st.relative_residual, rel.maxCoeff());
        for (std::int64_t i = 1; i <= L.ny; ++i)
            for (std::int64_t j = 1; j <= L.nx; ++j) {
                const std::size_t k = static_cast<std::size_t>(i * s + j);
                if (L.d[k] == 0.0f) continue;
                float* q = dst + ((y0 - 1 + i) * w + (x0 - 1 + j)) * c + c0;
                for (std::int64_t l = 0; l < lanes; ++l) q[l] = std::clamp(u[k][l], 0.0f, 1.0f);
            }
    }
    if (stats) *stats = st;
    return out;
}

}  // namespace hg::face
