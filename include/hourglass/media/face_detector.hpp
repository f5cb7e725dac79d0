// hg::media::face_detector: finds faces in a picture with dlib. Two detectors:
//  - HOG (the default, built into dlib, no model file): dlib's frontal_face_detector, a sliding
//    window of histogram-of-oriented-gradients features with a linear SVM over an image pyramid.
//    It finds roughly frontal faces (up to about 30-40 degrees of yaw) of at least 80 x 80 pixels
//    in the picture it scans;
//  - CNN (MMOD): dlib's max-margin object detection network, when a model file is given
//    (mmod_human_face_detector.dat from dlib.net); more robust to pose and light, slower on a CPU.
// Large pictures are scanned on a copy downscaled (area average) so that the longer side is at most
// detect_size (as DeepFaceLab does), optionally upsampled by 2 per `upsample` to find small faces;
// the boxes are mapped back to the picture's pixels. Scores: the HOG detector's SVM margin or the
// CNN's detection confidence; `threshold` moves either detector's decision threshold (dlib's
// adjust_threshold, 0 by default): higher keeps only surer faces, lower finds more.
// Declarations only: dlib stays inside media/face_detector.cpp (the compiled media component).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace hg::media {

/// A picture as 8-bit RGB, row-major (height * width * 3 bytes), not owned.
struct rgb_view {
    const std::uint8_t* data = nullptr;
    std::int64_t width = 0, height = 0;
};

/// A detected face: its box in the picture's pixels ([left, right) x [top, bottom)) and score.
struct face_box {
    double left = 0, top = 0, right = 0, bottom = 0;
    double score = 0;
    double width() const { return right - left; }
    double height() const { return bottom - top; }
};

struct detector_options {
    std::filesystem::path cnn_model;   ///< empty: HOG; else the MMOD model file (CNN detector)
    std::int64_t detect_size = 640;    ///< scan a copy whose longer side is at most this (0: full size)
    int upsample = 0;                  ///< extra 2x pyramid levels on the scanned copy (finds smaller faces)
    double threshold = 0.0;            ///< decision threshold: faces scoring above it are kept
};

class face_detector {
public:
    /// io_error when the CNN model file is missing or not a dlib MMOD network (naming the file);
    /// value_error for options out of range.
    explicit face_detector(detector_options opts = {});
    ~face_detector();
    face_detector(face_detector&&) noexcept;
    face_detector& operator=(face_detector&&) noexcept;

    /// Another detector with the same model (a copy of the loaded model, much quicker than loading
    /// it again): one per thread, as a detector must not be used by two threads at once.
    face_detector clone() const;

    /// The faces in the picture, highest score first. shape_error for an empty picture.
    std::vector<face_box> detect(const rgb_view& picture);
    /// "hog" or "cnn".
    std::string name() const;
    const detector_options& options() const;

private:
    struct impl;
    explicit face_detector(std::unique_ptr<impl> i);
    std::unique_ptr<impl> impl_;
};

}  // namespace hg::media
