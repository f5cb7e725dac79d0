// The discrete Fourier transform on the host, in double precision, for every length: an iterative
// radix-2 FFT for powers of two and Bluestein's chirp-z algorithm (a convolution done with
// power-of-two FFTs) for the other lengths; the 2-D transform of a row-major H x W array is a 1-D
// transform of every row followed by one of every column.
//
// Conventions (those of numpy.fft / torch.fft without normalisation):
//   forward  X[k] = sum_n x[n] exp(-2 pi i k n / N)
//   inverse  x[n] = sum_k X[k] exp(+2 pi i k n / N)     (no 1/N: inverse(forward(x)) = N x)
// Callers scale as they need ('ortho' = 1/sqrt(N) on each direction). Plans are immutable once
// built, so one plan may serve several threads at once.
#pragma once

#include <complex>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "hourglass/core/error.hpp"

namespace hg::math {

using complex_double = std::complex<double>;

/// A 1-D transform of one length, with its twiddle factors (and chirp, for Bluestein) precomputed.
class fft_plan {
public:
    explicit fft_plan(std::int64_t n) : n_(n) {
        if (n < 1) throw value_error("fft: the length must be at least 1, got " + std::to_string(n));
        if (is_power_of_two(n)) {
            init_radix2(n, twiddle_, bit_reverse_);
        } else {
            // Bluestein: with 2kn = k^2 + n^2 - (k - n)^2,
            //   X[k] = c[k] * sum_n (x[n] c[n]) * conj(c[k - n]),   c[m] = exp(-i pi m^2 / N),
            // a linear convolution of length 2N - 1, done as a cyclic one of a power-of-two length
            // M >= 2N - 1. conj(c) is even in m, so it wraps around to the end of the array.
            m_ = 1;
            while (m_ < 2 * n - 1) m_ *= 2;
            init_radix2(m_, twiddle_, bit_reverse_);
            chirp_.resize(static_cast<std::size_t>(n));
            for (std::int64_t j = 0; j < n; ++j) {
                // m^2 mod 2N keeps the angle small, so it is exact for large m too.
                const std::int64_t q = (j * j) % (2 * n);
                const double angle = -pi * static_cast<double>(q) / static_cast<double>(n);
                chirp_[static_cast<std::size_t>(j)] = complex_double(std::cos(angle), std::sin(angle));
            }
            kernel_.assign(static_cast<std::size_t>(m_), complex_double(0.0, 0.0));
            kernel_[0] = std::conj(chirp_[0]);
            for (std::int64_t j = 1; j < n; ++j) {
                kernel_[static_cast<std::size_t>(j)] = std::conj(chirp_[static_cast<std::size_t>(j)]);
                kernel_[static_cast<std::size_t>(m_ - j)] = std::conj(chirp_[static_cast<std::size_t>(j)]);
            }
            radix2(kernel_.data(), m_, false);  // the kernel's spectrum, reused by every call
        }
    }

    std::int64_t size() const { return n_; }

    /// In place: x[0, N) <- its forward DFT.
    void forward(complex_double* x) const { transform(x, false); }
    /// In place: x[0, N) <- its unnormalised inverse DFT.
    void inverse(complex_double* x) const { transform(x, true); }

    static bool is_power_of_two(std::int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

private:
    static constexpr double pi = 3.14159265358979323846264338327950288;

    static void init_radix2(std::int64_t m, std::vector<complex_double>& twiddle, std::vector<std::int64_t>& rev) {
        twiddle.resize(static_cast<std::size_t>(m / 2 > 0 ? m / 2 : 1));
        for (std::int64_t k = 0; k < m / 2; ++k) {
            // Each factor from its own cos/sin (no recurrence), so errors do not build up.
            const double angle = -2.0 * pi * static_cast<double>(k) / static_cast<double>(m);
            twiddle[static_cast<std::size_t>(k)] = complex_double(std::cos(angle), std::sin(angle));
        }
        rev.resize(static_cast<std::size_t>(m));
        int bits = 0;
        while ((std::int64_t{1} << bits) < m) ++bits;
        for (std::int64_t i = 0; i < m; ++i) {
            std::int64_t r = 0;
            for (int b = 0; b < bits; ++b)
                if (i & (std::int64_t{1} << b)) r |= std::int64_t{1} << (bits - 1 - b);
            rev[static_cast<std::size_t>(i)] = r;
        }
    }

    /// Iterative decimation-in-time radix-2 FFT of length m (the plan's radix-2 length).
    void radix2(complex_double* x, std::int64_t m, bool inverse) const {
        for (std::int64_t i = 0; i < m; ++i) {
            const std::int64_t r = bit_reverse_[static_cast<std::size_t>(i)];
            if (i < r) std::swap(x[i], x[r]);
        }
        for (std::int64_t len = 2; len <= m; len *= 2) {
            const std::int64_t half = len / 2, step = m / len;
            for (std::int64_t start = 0; start < m; start += len) {
                for (std::int64_t j = 0; j < half; ++j) {
                    complex_double w = twiddle_[static_cast<std::size_t>(j * step)];
                    if (inverse) w = std::conj(w);
                    const complex_double u = x[start + j];
                    const complex_double v = x[start + j + half] * w;
                    x[start + j] = u + v;
                    x[start + j + half] = u - v;
                }
            }
        }
    }

    void transform(complex_double* x, bool inverse) const {
        if (chirp_.empty()) {
            radix2(x, n_, inverse);
            return;
        }
        // The inverse is the conjugate of the forward transform of the conjugate.
        std::vector<complex_double> a(static_cast<std::size_t>(m_), complex_double(0.0, 0.0));
        for (std::int64_t j = 0; j < n_; ++j) {
            const complex_double v = inverse ? std::conj(x[j]) : x[j];
            a[static_cast<std::size_t>(j)] = v * chirp_[static_cast<std::size_t>(j)];
        }
        radix2(a.data(), m_, false);
        for (std::int64_t j = 0; j < m_; ++j) a[static_cast<std::size_t>(j)] *= kernel_[static_cast<std::size_t>(j)];
        radix2(a.data(), m_, true);
        const double scale = 1.0 / static_cast<double>(m_);
        for (std::int64_t k = 0; k < n_; ++k) {
            const complex_double v = a[static_cast<std::size_t>(k)] * scale * chirp_[static_cast<std::size_t>(k)];
            x[k] = inverse ? std::conj(v) : v;
        }
    }

    std::int64_t n_ = 0;
    std::int64_t m_ = 0;                       // Bluestein's power-of-two length (0 for radix-2)
    std::vector<complex_double> twiddle_;      // exp(-2 pi i k / L), k < L / 2, L = n_ or m_
    std::vector<std::int64_t> bit_reverse_;    // the radix-2 input permutation of length L
    std::vector<complex_double> chirp_;        // Bluestein only: exp(-i pi j^2 / N)
    std::vector<complex_double> kernel_;       // Bluestein only: the DFT of the wrapped conj(chirp)
};

/// The 2-D transform of a row-major h x w array (rows of length w): rows first, then columns.
class fft2_plan {
public:
    fft2_plan(std::int64_t h, std::int64_t w) : rows_(w), cols_(h) {}

    std::int64_t height() const { return cols_.size(); }
    std::int64_t width() const { return rows_.size(); }

    /// In place: a[h * w] <- its 2-D forward DFT.
    void forward(complex_double* a) const { transform(a, false); }
    /// In place: a[h * w] <- its unnormalised 2-D inverse DFT.
    void inverse(complex_double* a) const { transform(a, true); }

private:
    void transform(complex_double* a, bool inverse) const {
        const std::int64_t h = height(), w = width();
        for (std::int64_t y = 0; y < h; ++y) {
            if (inverse)
                rows_.inverse(a + y * w);
            else
                rows_.forward(a + y * w);
        }
        if (h == 1) return;
        std::vector<complex_double> column(static_cast<std::size_t>(h));
        for (std::int64_t x = 0; x < w; ++x) {
            for (std::int64_t y = 0; y < h; ++y) column[static_cast<std::size_t>(y)] = a[y * w + x];
            if (inverse)
                cols_.inverse(column.data());
            else
                cols_.forward(column.data());
            for (std::int64_t y = 0; y < h; ++y) a[y * w + x] = column[static_cast<std::size_t>(y)];
        }
    }

    fft_plan rows_;
    fft_plan cols_;
};

}  // namespace hg::math
