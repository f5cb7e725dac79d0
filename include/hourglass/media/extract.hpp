// hg::media::extract_faces: the extraction pipeline of `hourglass-swap extract`. From a video, a
// picture or a folder of pictures to a folder of aligned faces with their masks and one
// alignments file (face/alignments.hpp), in the layout `hourglass-swap train --a DIR` reads:
//
//   DIR/<name>.png              the aligned face (size x size, RGB)
//   DIR/masks/<name>.png        its face mask ('extended' or 'components', face/landmark_masks.hpp)
//   DIR/masks-eye/<name>.png    the eye-region mask   } the trainer weights these regions by its
//   DIR/masks-mouth/<name>.png  the mouth-region mask } eye and mouth multipliers
//   DIR/alignments.json         per frame: index, time, and per face its box, score, 68 landmarks,
//                               frame->face matrix and file name
// <name> is <video stem>_<frame, 6 digits>_<face> for a video, and the picture's path below the
// input folder (folders joined by '_', extension dropped)_<face> for pictures.
//
// Per frame: detect (face_detector), drop faces smaller than min_size, keep the max_faces largest,
// predict 68 landmarks, optionally smooth them over time (a face is followed from frame to frame
// by the overlap of its boxes; a quadratic least-squares fit over the frames within
// smooth_radius * every of the frame, face/smoothing.hpp), align and cut out (face/alignment.hpp),
// drop faces whose blur score is under blur_threshold, write the face and its masks (atomically),
// and record the frame. Frames are worked on by `threads` threads (detection and landmarks) and
// written in order.
//
// Resuming: the alignments file is rewritten atomically every couple of seconds and at the end.
// A second run into the same folder with the same input and settings continues after the last
// frame the file records (faces of later frames written before an interruption are written again,
// under the same names); a run whose file says complete does nothing; another input or other
// settings are refused (value_error), so one folder never mixes two extractions.
//
// Errors: io_error / format_error naming the file and the reason for an input that cannot be read
// (not a video or picture, truncated, over max_pixels), a missing or wrong model file, an output
// that cannot be written. In a folder of pictures, an unreadable picture is skipped with a warning
// (extract_summary::warnings); a single picture that cannot be read is an error. A video that ends
// before its declared length (a truncated file) keeps the faces of the frames read and says so in
// the summary (truncated).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "hourglass/face/alignment.hpp"
#include "hourglass/media/face_detector.hpp"

namespace hg::media {

/// The face mask written to masks/.
enum class face_mask_kind { components, extended };

struct extract_options {
    std::filesystem::path input;          ///< a video, a picture, or a folder of pictures (searched recursively)
    std::filesystem::path output;         ///< the faces folder (created)
    face::alignment_options align;        ///< size (256), centering (face), coverage (1.0)
    face_mask_kind mask = face_mask_kind::extended;
    std::int64_t every = 1;               ///< work on every N-th frame of a video
    double min_size = 0;                  ///< drop faces whose box is smaller (sqrt of its area, frame px)
    std::int64_t max_faces = 0;           ///< keep at most this many faces per frame, largest first (0: all)
    double blur_threshold = 0;            ///< drop faces whose blur score is lower (0: keep all)
    bool smooth = false;                  ///< smooth landmarks over time (videos)
    std::int64_t smooth_radius = 3;       ///< frames (in units of `every`) on each side of the smoothing fit
    detector_options detector;            ///< HOG or CNN, detect_size, upsample, threshold
    std::filesystem::path landmarks_model;///< empty: Debian's shape_predictor_68_face_landmarks.dat
    std::int64_t max_pixels = 64'000'000; ///< frames or pictures with more pixels are refused
    int threads = 0;                      ///< detection threads; 0: the machine's cores
    double save_seconds = 2.0;            ///< rewrite the alignments file at most this often while running
};

/// Where a running extraction is (for a progress line).
struct extract_progress {
    std::int64_t frames_read = 0;   ///< frames (or pictures) read so far, this run and earlier runs
    std::int64_t frames_total = -1; ///< expected frames (-1: unknown)
    std::int64_t faces_kept = 0;
    double frames_per_second = 0;   ///< this run's rate
    double seconds_left = -1;       ///< -1: unknown
};

struct extract_summary {
    std::string source_kind;        ///< "video", "images" or "image"
    std::int64_t frames_read = 0;   ///< frames or pictures read (all runs)
    std::int64_t frames_worked = 0; ///< of those, the ones searched for faces (every N-th)
    std::int64_t frames_with_faces = 0;
    std::int64_t faces_found = 0;   ///< detections before any filter
    std::int64_t faces_kept = 0;    ///< faces written
    std::int64_t dropped_small = 0, dropped_max_faces = 0, dropped_blurry = 0;
    std::int64_t unreadable = 0;    ///< pictures of a folder that could not be read (skipped)
    std::int64_t resumed_at = -1;   ///< the first frame this run worked on when it resumed; -1: fresh
    bool already_complete = false;  ///< the alignments file said the source was done: nothing to do
    bool stopped = false;           ///< stopped by the stop flag before the end
    bool truncated = false;         ///< the video ended early or had bad data (see truncation_message)
    std::string truncation_message;
    std::vector<std::string> warnings;
    double seconds = 0;             ///< this run's wall time
    double detect_seconds = 0, landmark_seconds = 0, decode_seconds = 0, write_seconds = 0; ///< time per stage (summed over threads)
    std::filesystem::path alignments_file;
};

/// Runs the extraction. `progress` (optional) is called after every frame; `stop` (optional) ends
/// it early and cleanly (the alignments file then records every frame done).
extract_summary extract_faces(const extract_options& options, const std::function<void(const extract_progress&)>& progress = {},
                              const std::atomic<bool>* stop = nullptr);

/// Whether this build's dlib can run on a GPU (Debian's cannot).
bool detector_has_cuda();

std::string to_string(face_mask_kind k);
/// "components" or "extended"; value_error otherwise.
face_mask_kind parse_face_mask_kind(const std::string& s);

}  // namespace hg::media
