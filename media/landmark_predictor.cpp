// hg::media::landmark_predictor on dlib's shape_predictor. dlib returns each landmark rounded to
// whole pixels (full_object_detection stores integer points), so a single landmark is quantised
// to +-0.5 px; the alignment fits 51 of them, which averages most of that away, and --smooth
// removes the rest of the frame-to-frame jitter.
#include "hourglass/media/landmark_predictor.hpp"

#include <cstdlib>
#include <fstream>
#include <string>
#include <system_error>

#include <dlib/image_processing/shape_predictor.h>

#include "grey_image.hpp"
#include "hourglass/core/error.hpp"

namespace hg::media {

std::vector<std::filesystem::path> default_landmark_model_paths() {
    std::vector<std::filesystem::path> out;
    if (const char* env = std::getenv("HG_LANDMARKS_MODEL"); env && *env) out.emplace_back(env);
    out.emplace_back("/usr/share/dlib/shape_predictor_68_face_landmarks.dat");
    out.emplace_back("/usr/local/share/dlib/shape_predictor_68_face_landmarks.dat");
    return out;
}

std::filesystem::path find_landmark_model() {
    std::string tried;
    for (const auto& p : default_landmark_model_paths()) {
        std::error_code ec;
        if (std::filesystem::is_regular_file(p, ec)) return p;
        tried += (tried.empty() ? "" : ", ") + p.string();
    }
    throw io_error("the 68-point landmark model was not found (looked for " + tried +
                   "); install Debian's libdlib-data or name the file with --landmarks-model");
}

struct landmark_predictor::impl {
    std::filesystem::path path;
    dlib::shape_predictor sp;  // its operator() is const and keeps no state: one model serves every thread

    explicit impl(const std::filesystem::path& model) : path(model.empty() ? find_landmark_model() : model) {
        const std::string name = path.string();
        std::error_code ec;
        if (!std::filesystem::exists(path, ec)) throw io_error("the landmark model " + name + " does not exist");
        if (!std::filesystem::is_regular_file(path, ec)) throw io_error("the landmark model " + name + " is not a file");
        std::ifstream in(path, std::ios::binary);
        if (!in) throw io_error("cannot open the landmark model " + name);
        try {
            dlib::deserialize(sp, in);
        } catch (const std::exception& e) {
            throw io_error("the landmark model " + name + " is not a dlib shape predictor (" + e.what() + ")");
        }
        if (sp.num_parts() != face::landmark_count)
            throw format_error("the landmark model " + name + " predicts " + std::to_string(sp.num_parts()) +
                               " points, not the 68 of the iBUG 300-W markup");
    }

    face::landmarks predict_grey(const dlib::array2d<unsigned char>& grey, const face_box& b) const {
        const dlib::rectangle r(std::lround(b.left), std::lround(b.top), std::lround(b.right) - 1,
                                std::lround(b.bottom) - 1);
        const dlib::full_object_detection d = sp(grey, r);
        face::landmarks l;
        for (int i = 0; i < face::landmark_count; ++i) {
            l(i, 0) = double(d.part(static_cast<unsigned long>(i)).x());
            l(i, 1) = double(d.part(static_cast<unsigned long>(i)).y());
        }
        return l;
    }
};

landmark_predictor::landmark_predictor(const std::filesystem::path& model) : impl_(std::make_unique<impl>(model)) {}
landmark_predictor::~landmark_predictor() = default;
landmark_predictor::landmark_predictor(landmark_predictor&&) noexcept = default;
landmark_predictor& landmark_predictor::operator=(landmark_predictor&&) noexcept = default;

face::landmarks landmark_predictor::predict(const rgb_view& picture, const face_box& box) const {
    return predict(picture, std::vector<face_box>{box}).front();
}

std::vector<face::landmarks> landmark_predictor::predict(const rgb_view& picture, const std::vector<face_box>& boxes) const {
    detail::require_picture(picture, "landmark_predictor::predict");
    std::vector<face::landmarks> out;
    if (boxes.empty()) return out;
    dlib::array2d<unsigned char> grey;
    detail::to_grey(picture, grey);
    out.reserve(boxes.size());
    for (const auto& b : boxes) {
        if (!(b.width() > 0 && b.height() > 0))
            throw value_error("landmark_predictor::predict: an empty face box");
        out.push_back(impl_->predict_grey(grey, b));
    }
    return out;
}

const std::filesystem::path& landmark_predictor::model_path() const { return impl_->path; }

}  // namespace hg::media
