// Colour conversions between sRGB and CIE L*a*b* (D65 white), and the random L*a*b* colour jitter
// of the augmentation.
//
// Two implementations of the same conversion:
//  - srgb_to_lab / lab_to_srgb: exact scalar formulas in double (the reference, used by tests);
//  - lab_color_table: a fast float path for whole images (interpolated tables for the sRGB
//    transfer curve and the cube root, the latter two indexed by the float's bits): coded L*a*b* within 2e-6 of the exact path, an sRGB round
//    trip within 2e-5; used by lab_jitter.
//
// The jitter follows faceswap (lib/training/augmentation.py, ImageAugmentation._random_lab): the
// image is converted to L*a*b* in OpenCV's 8-bit coding, here scaled to [0, 1]
//   Lc = L / 100,  ac = (a + 128) / 255,  bc = (b + 128) / 255,
// and each coded channel v is moved by its random amount r in [-range, range]:
//   r >= 0: v + r * (1 - v)   (towards the top of the range)
//   r <  0: v * (1 + r)       (towards zero)
// then converted back, with linear RGB clamped to [0, 1] (as OpenCV's 8-bit result saturates).
// Note that on a and b this moves the neutral point (128/255), so r tints the whole image.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

namespace hg::data {

/// A colour triple (sRGB, linear RGB, XYZ or L*a*b*, depending on the function).
struct color3 {
    double c[3];
};

namespace color_detail {

/// sRGB (IEC 61966-2-1) primaries to XYZ, D65.
inline constexpr double rgb_to_xyz[3][3] = {{0.4124564, 0.3575761, 0.1804375},
                                            {0.2126729, 0.7151522, 0.0721750},
                                            {0.0193339, 0.1191920, 0.9503041}};

/// The D65 white point as the image of RGB (1, 1, 1), so white maps to L = 100, a = b = 0.
inline constexpr double white[3] = {rgb_to_xyz[0][0] + rgb_to_xyz[0][1] + rgb_to_xyz[0][2],
                                    rgb_to_xyz[1][0] + rgb_to_xyz[1][1] + rgb_to_xyz[1][2],
                                    rgb_to_xyz[2][0] + rgb_to_xyz[2][1] + rgb_to_xyz[2][2]};

struct matrix3 {
    double m[3][3];
};

/// Inverse of a 3x3 matrix by cofactors (computed once, in double).
constexpr matrix3 invert(const double (&a)[3][3]) {
    matrix3 r{};
    const double c00 = a[1][1] * a[2][2] - a[1][2] * a[2][1];
    const double c01 = a[1][2] * a[2][0] - a[1][0] * a[2][2];
    const double c02 = a[1][0] * a[2][1] - a[1][1] * a[2][0];
    const double det = a[0][0] * c00 + a[0][1] * c01 + a[0][2] * c02;
    r.m[0][0] = c00 / det;
    r.m[1][0] = c01 / det;
    r.m[2][0] = c02 / det;
    r.m[0][1] = (a[0][2] * a[2][1] - a[0][1] * a[2][2]) / det;
    r.m[1][1] = (a[0][0] * a[2][2] - a[0][2] * a[2][0]) / det;
    r.m[2][1] = (a[0][1] * a[2][0] - a[0][0] * a[2][1]) / det;
    r.m[0][2] = (a[0][1] * a[1][2] - a[0][2] * a[1][1]) / det;
    r.m[1][2] = (a[0][2] * a[1][0] - a[0][0] * a[1][2]) / det;
    r.m[2][2] = (a[0][0] * a[1][1] - a[0][1] * a[1][0]) / det;
    return r;
}

inline constexpr matrix3 xyz_to_rgb = invert(rgb_to_xyz);

// CIE constants: f(t) = t^(1/3) above (6/29)^3, else t / (3 (6/29)^2) + 4/29.
inline constexpr double delta = 6.0 / 29.0;
inline constexpr double delta3 = delta * delta * delta;
inline constexpr double slope = 1.0 / (3.0 * delta * delta);

inline double lab_f(double t) { return t > delta3 ? std::cbrt(t) : t * slope + 4.0 / 29.0; }
inline double lab_f_inverse(double f) { return f > delta ? f * f * f : (f - 4.0 / 29.0) / slope; }

}  // namespace color_detail

/// The sRGB transfer curve: encoded value in [0, 1] to linear light.
inline double srgb_to_linear(double v) {
    return v <= 0.04045 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4);
}
/// Linear light in [0, 1] to the encoded sRGB value.
inline double linear_to_srgb(double v) {
    return v <= 0.0031308 ? v * 12.92 : 1.055 * std::pow(v, 1.0 / 2.4) - 0.055;
}

/// sRGB in [0, 1] to L*a*b* (L in [0, 100], a and b roughly in [-128, 127]), D65. Exact, in double.
inline color3 srgb_to_lab(color3 rgb) {
    using namespace color_detail;
    double lin[3], xyz[3];
    for (int i = 0; i < 3; ++i) lin[i] = srgb_to_linear(rgb.c[i]);
    for (int i = 0; i < 3; ++i)
        xyz[i] = (rgb_to_xyz[i][0] * lin[0] + rgb_to_xyz[i][1] * lin[1] + rgb_to_xyz[i][2] * lin[2]) / white[i];
    const double fx = lab_f(xyz[0]), fy = lab_f(xyz[1]), fz = lab_f(xyz[2]);
    return color3{{116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)}};
}

/// L*a*b* to sRGB, D65. Exact, in double; out-of-gamut colours are NOT clamped.
inline color3 lab_to_srgb(color3 lab) {
    using namespace color_detail;
    const double fy = (lab.c[0] + 16.0) / 116.0;
    const double f[3] = {fy + lab.c[1] / 500.0, fy, fy - lab.c[2] / 200.0};
    double xyz[3], out[3];
    for (int i = 0; i < 3; ++i) xyz[i] = lab_f_inverse(f[i]) * white[i];
    for (int i = 0; i < 3; ++i) {
        const double lin = xyz_to_rgb.m[i][0] * xyz[0] + xyz_to_rgb.m[i][1] * xyz[1] + xyz_to_rgb.m[i][2] * xyz[2];
        out[i] = lin <= 0.0031308 ? lin * 12.92 : 1.055 * std::pow(lin, 1.0 / 2.4) - 0.055;
    }
    return color3{{out[0], out[1], out[2]}};
}

/// faceswap's L*a*b* shift of one coded channel value v in [0, 1] by amount r (see the file comment).
inline float lab_shift(float v, float r) { return r >= 0.0f ? v + r * (1.0f - v) : v * (1.0f + r); }

/// A table of f over [2^-Octaves, 1] indexed by the bits of the argument: 2^Bits equal steps per
/// octave, linear interpolation between them. The index is the float's exponent and top mantissa
/// bits and the interpolation weight its remaining mantissa bits, so a lookup needs no division,
/// square root or logarithm; the relative step is at most 2^-Bits, which suits power curves.
template <int Octaves, int Bits>
class octave_table {
public:
    static constexpr int size = Octaves << Bits;  // intervals
    static constexpr std::uint32_t base = static_cast<std::uint32_t>(127 - Octaves) << 23;  // bits of 2^-Octaves
    static constexpr int shift = 23 - Bits;

    template <class F>
    void build(F f) {
        for (int i = 0; i <= size; ++i) {
            const float x = std::bit_cast<float>(base + (static_cast<std::uint32_t>(i) << shift));
            v_[i] = static_cast<float>(f(static_cast<double>(x)));
        }
        v_[size + 1] = v_[size];  // x = 1 lands on index size with weight 0
    }
    /// f(x) for x in [2^-Octaves, 1] (no branches: pixel data would make them unpredictable).
    float operator()(float x) const {
        const std::uint32_t d = std::bit_cast<std::uint32_t>(x) - base;
        const std::uint32_t i = d >> shift;
        const float w = static_cast<float>(d & ((1u << shift) - 1u)) * (1.0f / static_cast<float>(1u << shift));
        return v_[i] + w * (v_[i + 1] - v_[i]);
    }

private:
    float v_[size + 2];
};

/// The fast float conversion used on whole images.
class lab_color_table {
public:
    static constexpr int entries = 1024;

    lab_color_table() {
        for (int i = 0; i <= entries; ++i) decode_[i] = static_cast<float>(srgb_to_linear(static_cast<double>(i) / entries));
        // 0.0031308 (the end of the linear part of the encoding) > 2^-9; (6/29)^3 = 0.00886 > 2^-7.
        encode_.build([](double x) { return linear_to_srgb(x); });
        cbrt_.build([](double x) { return std::cbrt(x); });
        using namespace color_detail;
        for (int r = 0; r < 3; ++r)
            for (int c = 0; c < 3; ++c) {
                to_xyz_[r][c] = static_cast<float>(rgb_to_xyz[r][c] / white[r]);
                to_rgb_[r][c] = static_cast<float>(xyz_to_rgb.m[r][c] * white[c]);
            }
    }

    /// Linear light of an encoded value (clamped to [0, 1]); linear interpolation in the table.
    float decode(float v) const {
        const float t = std::clamp(v, 0.0f, 1.0f) * entries;
        const int i = std::min(static_cast<int>(t), entries - 1);
        const float f = t - static_cast<float>(i);
        return decode_[i] + f * (decode_[i + 1] - decode_[i]);
    }
    /// Encoded value of linear light (clamped to [0, 1]).
    float encode(float lin) const {
        const float x = std::clamp(lin, 0.0f, 1.0f);
        const float curve = encode_(std::max(x, 0.0031308f));  // both sides, then a select
        return x <= 0.0031308f ? 12.92f * x : curve;
    }
    /// Cube root of t in [2^-7, 1] (other values are clamped into it; L*a*b* needs t > (6/29)^3).
    float cbrt(float t) const { return cbrt_(std::clamp(t, 0.0078125f, 1.0f)); }

    /// sRGB in [0, 1] to coded L*a*b* in [0, 1] (Lc = L/100, ac = (a+128)/255, bc = (b+128)/255).
    void to_coded_lab(const float* rgb, float* lab) const {
        const float l0 = decode(rgb[0]), l1 = decode(rgb[1]), l2 = decode(rgb[2]);
        float f[3];
        for (int r = 0; r < 3; ++r) {
            const float t = to_xyz_[r][0] * l0 + to_xyz_[r][1] * l1 + to_xyz_[r][2] * l2;
            const float root = cbrt(t), line = t * static_cast<float>(color_detail::slope) + static_cast<float>(4.0 / 29.0);
            f[r] = t > static_cast<float>(color_detail::delta3) ? root : line;
        }
        lab[0] = (116.0f * f[1] - 16.0f) * (1.0f / 100.0f);
        lab[1] = (500.0f * (f[0] - f[1]) + 128.0f) * (1.0f / 255.0f);
        lab[2] = (200.0f * (f[1] - f[2]) + 128.0f) * (1.0f / 255.0f);
    }

    /// Coded L*a*b* back to sRGB in [0, 1] (linear RGB clamped to [0, 1]).
    void from_coded_lab(const float* lab, float* rgb) const {
        const float fy = (lab[0] * 100.0f + 16.0f) * (1.0f / 116.0f);
        const float f[3] = {fy + (lab[1] * 255.0f - 128.0f) * (1.0f / 500.0f), fy,
                            fy - (lab[2] * 255.0f - 128.0f) * (1.0f / 200.0f)};
        float t[3];
        constexpr float d = static_cast<float>(color_detail::delta);
        for (int i = 0; i < 3; ++i)
            t[i] = f[i] > d ? f[i] * f[i] * f[i]
                            : (f[i] - static_cast<float>(4.0 / 29.0)) * static_cast<float>(1.0 / color_detail::slope);
        for (int r = 0; r < 3; ++r)
            rgb[r] = encode(to_rgb_[r][0] * t[0] + to_rgb_[r][1] * t[1] + to_rgb_[r][2] * t[2]);
    }

    /// The shared table (built once, thread-safe initialisation).
    static const lab_color_table& instance() {
        static const lab_color_table table;
        return table;
    }

private:
    float decode_[entries + 1];
    octave_table<9, 8> encode_;
    octave_table<7, 9> cbrt_;
    float to_xyz_[3][3];
    float to_rgb_[3][3];
};

/// Applies faceswap's L*a*b* jitter with amounts (dl, da, db) to `pixels` interleaved RGB values
/// in [0, 1], in place. With all amounts 0 the result is the fast round trip (within 2e-5 of the
/// input).
inline void lab_jitter(float* rgb, std::int64_t pixels, float dl, float da, float db) {
    const lab_color_table& table = lab_color_table::instance();
    for (std::int64_t p = 0; p < pixels; ++p) {
        float* px = rgb + 3 * p;
        float lab[3];
        table.to_coded_lab(px, lab);
        lab[0] = lab_shift(lab[0], dl);
        lab[1] = lab_shift(lab[1], da);
        lab[2] = lab_shift(lab[2], db);
        table.from_coded_lab(lab, px);
    }
}

}  // namespace hg::data
