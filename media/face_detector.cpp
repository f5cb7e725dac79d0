// hg::media::face_detector on dlib: the HOG frontal face detector (default) and the MMOD CNN
// detector (with a model file of the network in mmod_network.hpp).
#include "hourglass/media/face_detector.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <system_error>

#include <dlib/dnn.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>

#include "grey_image.hpp"
#include "mmod_network.hpp"
#include "hourglass/core/error.hpp"

namespace hg::media {

namespace {

/// The scale that brings the longer side down to at most `limit` (1 when limit is 0 or not exceeded).
double scan_scale(std::int64_t w, std::int64_t h, std::int64_t limit) {
    const std::int64_t longer = std::max(w, h);
    return (limit > 0 && longer > limit) ? double(limit) / double(longer) : 1.0;
}

}  // namespace

struct face_detector::impl {
    detector_options opts;
    bool cnn = false;
    dlib::frontal_face_detector hog;
    detail::mmod_net net;
    dlib::array2d<unsigned char> grey, small;

    /// A copy of the model; the scratch pictures are not copied.
    impl(const impl& o) : opts(o.opts), cnn(o.cnn), hog(o.hog), net(o.net) {}

    explicit impl(detector_options o) : opts(std::move(o)) {
        if (opts.detect_size < 0)
            throw value_error("face_detector: detect_size must be 0 (full size) or positive, got " +
                              std::to_string(opts.detect_size));
        if (opts.detect_size > 0 && opts.detect_size < 80)
            throw value_error("face_detector: detect_size " + std::to_string(opts.detect_size) +
                              " is below 80 pixels, the smallest face the detectors find");
        if (opts.upsample < 0 || opts.upsample > 3)
            throw value_error("face_detector: upsample must be 0 to 3, got " + std::to_string(opts.upsample));
        if (!std::isfinite(opts.threshold)) throw value_error("face_detector: the threshold is not finite");
        if (opts.cnn_model.empty()) {
            hog = dlib::get_frontal_face_detector();
            return;
        }
        cnn = true;
        const std::string name = opts.cnn_model.string();
        std::error_code ec;
        if (!std::filesystem::exists(opts.cnn_model, ec))
            throw io_error("the detector model " + name + " does not exist");
        if (!std::filesystem::is_regular_file(opts.cnn_model, ec)) throw io_error("the detector model " + name + " is not a file");
        std::ifstream in(opts.cnn_model, std::ios::binary);
        if (!in) throw io_error("cannot open the detector model " + name);
        try {
            dlib::deserialize(net, in);
        } catch (const std::exception& e) {
            throw io_error("the detector model " + name + " is not a dlib MMOD face detector network (" + e.what() + ")");
        }
    }

    std::vector<face_box> detect(const rgb_view& p) {
        detail::require_picture(p, "face_detector::detect");
        const double s = scan_scale(p.width, p.height, opts.detect_size);
        const long sw = std::max<long>(1, std::lround(double(p.width) * s));
        const long sh = std::max<long>(1, std::lround(double(p.height) * s));
        const double up = std::pow(2.0, opts.upsample);
        // Scanned-copy pixels to picture pixels.
        const double fx = double(p.width) / (double(sw) * up), fy = double(p.height) / (double(sh) * up);
        std::vector<dlib::rectangle> rects;
        std::vector<double> scores;
        if (!cnn) {
            detail::to_grey(p, grey);
            dlib::array2d<unsigned char>* scan = &grey;
            if (sw != p.width || sh != p.height) {
                detail::downscale_area(grey, sw, sh, small);
                scan = &small;
            }
            for (int i = 0; i < opts.upsample; ++i) {
                dlib::array2d<unsigned char> larger;
                dlib::pyramid_up(*scan, larger, dlib::pyramid_down<2>());
                dlib::swap(small, larger);
                scan = &small;
            }
            std::vector<dlib::rect_detection> dets;
            hog(*scan, dets, opts.threshold);
            for (const auto& d : dets) {
                rects.push_back(d.rect);
                scores.push_back(d.detection_confidence);
            }
        } else {
            dlib::matrix<dlib::rgb_pixel> full(p.height, p.width), scan;
            for (std::int64_t y = 0; y < p.height; ++y)
                for (std::int64_t x = 0; x < p.width; ++x) {
                    const std::uint8_t* px = p.data + (y * p.width + x) * 3;
                    full(y, x) = dlib::rgb_pixel(px[0], px[1], px[2]);
                }
            if (sw != p.width || sh != p.height) {
                scan.set_size(sh, sw);
                dlib::resize_image(full, scan, dlib::interpolate_bilinear());
            } else {
                scan = std::move(full);
            }
            for (int i = 0; i < opts.upsample; ++i) dlib::pyramid_up(scan);
            // The threshold moves the network's decision threshold (dlib's adjust_threshold), as
            // for the HOG detector.
            for (const auto& d : net.process(scan, opts.threshold)) {
                rects.push_back(d.rect);
                scores.push_back(d.detection_confidence);
            }
        }
        std::vector<face_box> out;
        for (std::size_t i = 0; i < rects.size(); ++i) {
            const auto& r = rects[i];
            // dlib's rectangles are inclusive: [left, right] covers right - left + 1 pixels.
            face_box b;
            b.left = std::clamp(double(r.left()) * fx, 0.0, double(p.width));
            b.top = std::clamp(double(r.top()) * fy, 0.0, double(p.height));
            b.right = std::clamp(double(r.right() + 1) * fx, 0.0, double(p.width));
            b.bottom = std::clamp(double(r.bottom() + 1) * fy, 0.0, double(p.height));
            b.score = scores[i];
            if (b.width() > 0 && b.height() > 0) out.push_back(b);
        }
        std::stable_sort(out.begin(), out.end(), [](const face_box& a, const face_box& b) { return a.score > b.score; });
        return out;
    }
};

face_detector::face_detector(detector_options opts) : impl_(std::make_unique<impl>(std::move(opts))) {}
face_detector::face_detector(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
face_detector face_detector::clone() const { return face_detector(std::make_unique<impl>(*impl_)); }
face_detector::~face_detector() = default;
face_detector::face_detector(face_detector&&) noexcept = default;
face_detector& face_detector::operator=(face_detector&&) noexcept = default;

std::vector<face_box> face_detector::detect(const rgb_view& picture) { return impl_->detect(picture); }
std::string face_detector::name() const { return impl_->cnn ? "cnn" : "hog"; }
const detector_options& face_detector::options() const { return impl_->opts; }

}  // namespace hg::media
