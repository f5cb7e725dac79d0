// The parameter model of the synthetic faces: an IDENTITY (what makes a person: face shape, skin
// tone, eyes, brows, nose, mouth, hair, ears, clothes) and a POSE (everything about one picture:
// head position, roll and scale, gaze, eye openness, mouth opening and smile, lighting, background).
//
// The two are drawn independently from the counter-based Philox generator:
//   identity = make_identity(id)      seed = id,   stream = identity_stream
//   pose     = make_pose(seed, i)     seed = seed, stream = i
// so any identity can be rendered with any pose, and identity B rendered with the pose of sample i
// of identity A shows B in exactly A's picture (the ground truth of a swap).
//
// Geometry is in face units: fractions of the image size, origin at the face centre, y down. Eyes,
// nose and mouth sit near canonical places (as in aligned face crops) and vary per identity within
// bounds that keep them inside the canonical eye and mouth regions, which depend on the pose only.
#pragma once

#include <cstdint>

#include "hourglass/core/rng.hpp"

namespace hg::data {

struct rgb {
    float r = 0.0f, g = 0.0f, b = 0.0f;
};

/// Canonical feature places in face units (the centres of the eye and mouth regions).
namespace face_layout {
inline constexpr float eye_x = 0.115f;          ///< eye centres at (+-eye_x, eye_y)
inline constexpr float eye_y = -0.065f;
inline constexpr float eye_region_rx = 0.085f;  ///< eye region: ellipse radii
inline constexpr float eye_region_ry = 0.055f;
inline constexpr float mouth_y = 0.175f;        ///< mouth centre (0, mouth_y) when closed
inline constexpr float mouth_region_rx = 0.125f;
inline constexpr float mouth_region_ry = 0.06f;     ///< plus mouth_region_open_ry * mouth_open
inline constexpr float mouth_region_open_ry = 0.035f;
inline constexpr float mouth_open_drop = 0.05f;     ///< lower lip drop at mouth_open = 1
}  // namespace face_layout

/// What stays the same across all pictures of one person.
struct face_identity {
    std::uint64_t id = 0;
    float face_half_width = 0.3f;    ///< a: half width at the cheekbones (0.27 .. 0.33)
    float chin = 0.38f;              ///< distance from centre to chin (0.36 .. 0.41)
    float forehead = 0.39f;          ///< distance from centre to the top of the skull (0.36 .. 0.42)
    float jaw_taper = 0.15f;         ///< narrowing of the lower face (0 .. 0.28)
    rgb skin;
    float eye_dx = 0.0f, eye_dy = 0.0f;  ///< offsets from the canonical eye centres (+-0.008, +-0.006)
    float eye_half_width = 0.05f;        ///< 0.042 .. 0.058
    float eye_aspect = 0.45f;            ///< open half height / half width (0.38 .. 0.55)
    float eye_tilt = 0.0f;               ///< radians, outer corners up when positive (+-0.1)
    float iris_ratio = 0.47f;            ///< iris radius / eye half width (0.4 .. 0.52)
    rgb iris;
    float brow_thickness = 0.018f;       ///< 0.012 .. 0.026
    float brow_arch = 0.012f;            ///< 0 .. 0.025
    float brow_gap = 0.052f;             ///< brow height above the eye centre (0.045 .. 0.06)
    float nose_length = 0.15f;           ///< nose tip below the eyes (0.13 .. 0.17)
    float nose_width = 0.045f;           ///< 0.035 .. 0.055
    float mouth_dy = 0.0f;               ///< mouth offset from canonical (+-0.01)
    float mouth_half_width = 0.075f;     ///< 0.062 .. 0.085
    float lip_thickness = 0.017f;        ///< 0.012 .. 0.022
    rgb lips;
    rgb hair;
    int hair_style = 0;                  ///< 0 short, 1 long, 2 fringe, 3 cropped (thin), 4 side part
    float hairline = -0.25f;             ///< hairline height at the centre (-0.30 .. -0.22)
    float hair_volume = 0.04f;           ///< 0.02 .. 0.06
    float ear_size = 0.055f;             ///< 0.045 .. 0.065
    rgb clothes;
};

/// What changes from picture to picture.
struct face_pose {
    float offset_x = 0.0f, offset_y = 0.0f;  ///< head position, fraction of the size (+-0.03)
    float roll_deg = 0.0f;                   ///< head roll, degrees (+-10)
    float scale = 1.0f;                      ///< 0.94 .. 1.06
    float gaze_x = 0.0f, gaze_y = 0.0f;      ///< iris travel, -1 .. 1
    float eye_open = 1.0f;                   ///< 0 (closed) .. 1
    float mouth_open = 0.0f;                 ///< 0 .. 1
    float smile = 0.0f;                      ///< -0.3 (frown) .. 1
    float light_angle = 0.0f;                ///< direction of the light in the image plane, radians
    float light_strength = 0.2f;             ///< 0.05 .. 0.4
    float brightness = 1.0f;                 ///< 0.85 .. 1.12
    float tint = 0.0f;                       ///< warm (+) or cool (-) light, -1 .. 1
    rgb background_a, background_b;          ///< background gradient ends
    float background_angle = 0.0f;
    float blob_x[3] = {}, blob_y[3] = {}, blob_r[3] = {};  ///< out-of-focus background blobs
    rgb blob_color[3];
};

/// The Philox stream of identities (high bit set: never a sample index of make_pose).
inline constexpr std::uint64_t identity_stream = 0x8000'0000'1D00'0000ull;

namespace face_model_detail {
inline float lerp(float a, float b, float t) { return a + (b - a) * t; }
inline rgb mix(rgb a, rgb b, float t) { return rgb{lerp(a.r, b.r, t), lerp(a.g, b.g, t), lerp(a.b, b.b, t)}; }
}  // namespace face_model_detail

/// The identity with number `id`.
inline face_identity make_identity(std::uint64_t id) {
    using face_model_detail::mix;
    rng g(id, identity_stream);
    auto u = [&](float lo, float hi) { return g.uniform(lo, hi); };
    face_identity p;
    p.id = id;
    p.face_half_width = u(0.27f, 0.33f);
    p.chin = u(0.36f, 0.41f);
    p.forehead = u(0.36f, 0.42f);
    p.jaw_taper = u(0.0f, 0.28f);
    // Skin: from very light to very dark along a brown line, with a little hue variation.
    const rgb light{0.96f, 0.83f, 0.74f}, mid{0.78f, 0.57f, 0.42f}, dark{0.36f, 0.23f, 0.16f};
    const float tone = u(0.0f, 1.0f);
    p.skin = tone < 0.5f ? mix(light, mid, tone * 2.0f) : mix(mid, dark, tone * 2.0f - 1.0f);
    const float hue = u(-0.04f, 0.04f);
    p.skin.r += hue;
    p.skin.b -= hue;
    p.eye_dx = u(-0.008f, 0.008f);
    p.eye_dy = u(-0.006f, 0.006f);
    p.eye_half_width = u(0.042f, 0.058f);
    p.eye_aspect = u(0.38f, 0.55f);
    p.eye_tilt = u(-0.1f, 0.1f);
    p.iris_ratio = u(0.4f, 0.52f);
    const rgb irises[6] = {{0.35f, 0.2f, 0.1f},  {0.2f, 0.12f, 0.07f}, {0.25f, 0.45f, 0.7f},
                           {0.3f, 0.5f, 0.3f},   {0.5f, 0.55f, 0.58f}, {0.5f, 0.38f, 0.18f}};
    p.iris = irises[g.next_bits() % 6u];
    p.brow_thickness = u(0.012f, 0.026f);
    p.brow_arch = u(0.0f, 0.025f);
    p.brow_gap = u(0.045f, 0.06f);
    p.nose_length = u(0.13f, 0.17f);
    p.nose_width = u(0.035f, 0.055f);
    p.mouth_dy = u(-0.01f, 0.01f);
    p.mouth_half_width = u(0.062f, 0.085f);
    p.lip_thickness = u(0.012f, 0.022f);
    p.lips = mix(p.skin, rgb{0.7f, 0.25f, 0.3f}, u(0.3f, 0.6f));
    const rgb hairs[7] = {{0.06f, 0.05f, 0.05f}, {0.25f, 0.15f, 0.08f}, {0.45f, 0.3f, 0.15f}, {0.85f, 0.7f, 0.42f},
                          {0.55f, 0.22f, 0.08f}, {0.7f, 0.7f, 0.72f},   {0.15f, 0.1f, 0.07f}};
    p.hair = hairs[g.next_bits() % 7u];
    p.hair_style = static_cast<int>(g.next_bits() % 5u);
    p.hairline = u(-0.30f, -0.22f);
    p.hair_volume = u(0.02f, 0.06f);
    p.ear_size = u(0.045f, 0.065f);
    p.clothes = rgb{u(0.1f, 0.9f), u(0.1f, 0.9f), u(0.1f, 0.9f)};
    return p;
}

/// The pose of sample `sample` of a set with seed `seed` (independent of any identity).
inline face_pose make_pose(std::uint64_t seed, std::uint64_t sample) {
    rng g(seed, sample);
    auto u = [&](float lo, float hi) { return g.uniform(lo, hi); };
    face_pose p;
    p.offset_x = u(-0.03f, 0.03f);
    p.offset_y = u(-0.03f, 0.03f);
    p.roll_deg = u(-10.0f, 10.0f);
    p.scale = u(0.94f, 1.06f);
    p.gaze_x = u(-1.0f, 1.0f);
    p.gaze_y = u(-0.6f, 0.6f);
    const float blink = u(0.0f, 1.0f);
    p.eye_open = blink < 0.1f ? u(0.0f, 0.15f) : u(0.55f, 1.0f);
    const float talk = u(0.0f, 1.0f);
    p.mouth_open = talk < 0.45f ? 0.0f : u(0.1f, 1.0f);
    p.smile = u(-0.3f, 1.0f);
    p.light_angle = u(0.0f, 6.28318530717958647692f);
    p.light_strength = u(0.05f, 0.4f);
    p.brightness = u(0.85f, 1.12f);
    p.tint = u(-1.0f, 1.0f);
    p.background_a = rgb{u(0.05f, 0.95f), u(0.05f, 0.95f), u(0.05f, 0.95f)};
    p.background_b = rgb{u(0.05f, 0.95f), u(0.05f, 0.95f), u(0.05f, 0.95f)};
    p.background_angle = u(0.0f, 6.28318530717958647692f);
    for (int i = 0; i < 3; ++i) {
        p.blob_x[i] = u(0.0f, 1.0f);
        p.blob_y[i] = u(0.0f, 1.0f);
        p.blob_r[i] = u(0.05f, 0.2f);
        p.blob_color[i] = rgb{u(0.1f, 1.0f), u(0.1f, 1.0f), u(0.1f, 1.0f)};
    }
    return p;
}

}  // namespace hg::data
