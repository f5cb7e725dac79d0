// The swap fidelity score (hg::swap::face_ssim; the demo reports it): the SSIM between swapped
// faces and the renderer's ground truth over the face region only, and its normalised form (the
// share of the gap between "no swap" and a perfect swap that a swap closes).
//
// Why not the SSIM of the mask-multiplied images: multiplying both images by the face mask makes
// every window outside the face compare zeros with zeros, whose SSIM is exactly 1. On the 64 px
// synthetic faces more than half of the windows lie there, so that score sat near 0.8 for any output
// (an untrained grey blur scored as high as a trained swap) and the face's own similarity moved it
// by a few hundredths at most.
//
// face_ssim(pred, truth, mask), per image n:
//   1. composite   p' = m p + (1 - m) t: the prediction pasted into the truth's frame through the
//                  face mask m (what `swap --blend` does; the model is trained on the masked face
//                  and its background is meaningless, so the background is the truth's in both);
//   2. SSIM map    per pixel and channel, 11x11 Gaussian window (sigma 1.5), 'same' form (the
//                  window reads past the borders by reflection), c1 = 0.01^2, c2 = 0.03^2, in
//                  double precision (ops::ssim_map on hg::cpu64);
//   3. face mean   score_n = sum_q m(q) mean_c ssim(q, c) / sum_q m(q): the map averaged over the
//                  face with the mask's coverage as the weight, i.e. only windows centred on the
//                  face count (this is the SSIM over the face's bounding box weighted by the mask
//                  inside it; pixels outside the box have weight 0).
// The score is the mean over the images. It is 1 exactly when the faces are equal, and windows on
// the face edge still see the (shared) background around the face, which is fair: that edge is
// where a pasted swap meets the frame.
//
// gap_closed(score, baseline) = (score - baseline) / (1 - baseline): 0 for a swap no better than the
// unswapped faces (the baseline), 1 for a perfect one, negative when worse than not swapping.
#pragma once

#include <cstdint>
#include <string>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/cpu/backend.hpp"
#include "hourglass/ops/ssim.hpp"

namespace hg::swap {

/// Face-region SSIM per image of host batches pred, truth [N, H, W, C] and mask [N, H, W, 1]
/// (coverage in [0, 1]); returns [N] (double). Throws shape_error on mismatched shapes and
/// value_error for an image whose mask is empty or for images smaller than the 11 px window.
inline hg::basic_tensor<double> face_ssim_per_image(const hg::tensor& pred, const hg::tensor& truth,
                                                    const hg::tensor& mask) {
    const hg::shape s = truth.shape();
    if (s.rank() != 4) throw hg::shape_error("face_ssim: truth must be [N, H, W, C], got " + s.str());
    if (pred.shape() != s)
        throw hg::shape_error("face_ssim: prediction " + pred.shape().str() + " and truth " + s.str() + " differ");
    if (mask.shape() != hg::shape{s.n(), s.h(), s.w(), 1})
        throw hg::shape_error("face_ssim: mask must be [N, H, W, 1] for truth " + s.str() + ", got " +
                              mask.shape().str());
    hg::ops::ssim_config cfg;
    cfg.form = hg::ops::ssim_form::same;
    if (s.h() < cfg.window || s.w() < cfg.window)
        throw hg::value_error("face_ssim: images " + s.str() + " are smaller than the " +
                              std::to_string(cfg.window) + " px SSIM window");
    const std::int64_t n = s.n(), px = s.h() * s.w(), c = s.c();
    hg::cpu64 be(1);
    auto p = be.empty(s), t = be.empty(s), map = be.empty(cfg.map_shape(s));
    for (std::int64_t i = 0; i < n * px; ++i) {
        const double m = mask[i];
        for (std::int64_t k = 0; k < c; ++k) {
            const std::int64_t e = i * c + k;
            t[e] = truth[e];
            p[e] = m * double(pred[e]) + (1.0 - m) * double(truth[e]);
        }
    }
    hg::ops::ssim_map(be, cfg, p, t, map);
    auto out = hg::basic_tensor<double>::empty(hg::shape{n});
    for (std::int64_t b = 0; b < n; ++b) {
        double num = 0, den = 0;
        for (std::int64_t q = 0; q < px; ++q) {
            const double m = mask[b * px + q];
            if (m <= 0) continue;
            double v = 0;
            for (std::int64_t k = 0; k < c; ++k) v += map[(b * px + q) * c + k];
            num += m * v / double(c);
            den += m;
        }
        if (!(den > 0)) throw hg::value_error("face_ssim: the face mask of image " + std::to_string(b) + " is empty");
        out[b] = num / den;
    }
    return out;
}

/// Mean face-region SSIM over the batch (see the file comment).
inline double face_ssim(const hg::tensor& pred, const hg::tensor& truth, const hg::tensor& mask) {
    const auto per = face_ssim_per_image(pred, truth, mask);
    double sum = 0;
    for (std::int64_t i = 0; i < per.numel(); ++i) sum += per[i];
    return sum / double(per.numel());
}

/// The share of the gap between the baseline score and 1 that `score` closes.
inline double gap_closed(double score, double baseline) {
    if (!(baseline < 1.0)) throw hg::value_error("gap_closed: the baseline " + std::to_string(baseline) + " is not below 1");
    return (score - baseline) / (1.0 - baseline);
}

}  // namespace hg::swap
