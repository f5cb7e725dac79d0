// hg::media::landmark_predictor: the 68 facial landmarks of a detected face with dlib's shape
// predictor (an ensemble of regression trees, Kazemi and Sullivan 2014) and the model Debian's
// libdlib-data installs (/usr/share/dlib/shape_predictor_68_face_landmarks.dat, trained on the
// iBUG 300-W set, whose licence excludes commercial use: see docs/extract.md).
// predict() may be called from several threads at once (the model is read-only).
// Declarations only: dlib stays inside media/landmark_predictor.cpp.
#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "hourglass/face/landmarks.hpp"
#include "hourglass/media/face_detector.hpp"

namespace hg::media {

/// Where the 68-point model is looked for when none is named: $HG_LANDMARKS_MODEL, then
/// /usr/share/dlib and /usr/local/share/dlib.
std::vector<std::filesystem::path> default_landmark_model_paths();
/// The first of default_landmark_model_paths() that exists; io_error listing them when none does.
std::filesystem::path find_landmark_model();

class landmark_predictor {
public:
    /// Loads a 68-point shape predictor (empty path: find_landmark_model()). io_error naming the
    /// file when it is missing, unreadable or not a dlib shape predictor; format_error when the
    /// model predicts another number of points than 68.
    explicit landmark_predictor(const std::filesystem::path& model = {});
    ~landmark_predictor();
    landmark_predictor(landmark_predictor&&) noexcept;
    landmark_predictor& operator=(landmark_predictor&&) noexcept;

    /// The 68 landmarks (picture pixels, pixel centres at integers) of the face in `box`.
    face::landmarks predict(const rgb_view& picture, const face_box& box) const;
    /// The same for several boxes of one picture (converts the picture to grey once).
    std::vector<face::landmarks> predict(const rgb_view& picture, const std::vector<face_box>& boxes) const;
    const std::filesystem::path& model_path() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace hg::media
