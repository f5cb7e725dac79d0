// hg::media::extract_faces: reading the source (video, picture or folder), detection and landmarks
// on several threads, tracking and temporal smoothing, alignment, masks, the blur filter, writing
// the faces and the alignments file, and resuming. The contract is in include/hourglass/media/extract.hpp.
#include "hourglass/media/extract.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <system_error>
#include <thread>

#include <dlib/config.h>

#include "hourglass/core/error.hpp"
#include "hourglass/data/image_io.hpp"
#include "hourglass/data/resize.hpp"
#include "hourglass/face/alignments.hpp"
#include "hourglass/face/blur_score.hpp"
#include "hourglass/face/landmark_masks.hpp"
#include "hourglass/face/smoothing.hpp"
#include "hourglass/media/landmark_predictor.hpp"
#include "hourglass/media/pictures.hpp"
#include "hourglass/media/video.hpp"

namespace hg::media {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

bool detector_has_cuda() {
#ifdef DLIB_USE_CUDA
    return true;
#else
    return false;
#endif
}

std::string to_string(face_mask_kind k) { return k == face_mask_kind::components ? "components" : "extended"; }

face_mask_kind parse_face_mask_kind(const std::string& s) {
    if (s == "components") return face_mask_kind::components;
    if (s == "extended") return face_mask_kind::extended;
    throw value_error("the face mask must be components or extended, got '" + s + "'");
}

namespace {

/// The blur score is measured on the aligned face at this size, so that one threshold means the
/// same at every --size (the variance of the Laplacian grows as a picture is enlarged less).
constexpr std::int64_t blur_measure_size = 256;
/// Boxes of the same face in consecutive worked frames overlap at least this much (intersection over union).
constexpr double track_min_overlap = 0.3;

double seconds_since(clock_type::time_point t) { return std::chrono::duration<double>(clock_type::now() - t).count(); }

void validate(const extract_options& o) {
    face::validate_alignment_options(o.align, "extract");
    if (o.align.size < 16) throw value_error("extract: the face size must be at least 16 pixels, got " + std::to_string(o.align.size));
    if (o.every < 1) throw value_error("extract: --every must be at least 1, got " + std::to_string(o.every));
    if (!(o.min_size >= 0) || !std::isfinite(o.min_size))
        throw value_error("extract: --min-size must be a size in pixels >= 0, got " + std::to_string(o.min_size));
    if (o.max_faces < 0) throw value_error("extract: --max-faces must be >= 0 (0: all), got " + std::to_string(o.max_faces));
    if (!(o.blur_threshold >= 0) || !std::isfinite(o.blur_threshold))
        throw value_error("extract: --blur-threshold must be >= 0, got " + std::to_string(o.blur_threshold));
    if (o.smooth_radius < 1 || o.smooth_radius > 30)
        throw value_error("extract: the smoothing radius must be 1 to 30 frames, got " + std::to_string(o.smooth_radius));
    if (o.max_pixels < 1) throw value_error("extract: max_pixels must be positive");
    if (!(o.save_seconds > 0)) throw value_error("extract: save_seconds must be positive");
    if (o.output.empty()) throw value_error("extract: no output folder given");
    if (o.input.empty()) throw value_error("extract: no input given");
}

// ---- the source -------------------------------------------------------------------------------

struct source_frame {
    std::int64_t index = 0;
    double time = 0;
    std::string file;  // pictures: the path below the input folder
    std::vector<std::uint8_t> rgb;
    std::int64_t width = 0, height = 0;
    std::string error;  // pictures: why it could not be read (then skipped)
};

class frame_source {
public:
    frame_source(const extract_options& o) : opts_(o) {
        std::error_code ec;
        const auto st = fs::status(o.input, ec);
        if (ec || !fs::exists(st)) throw io_error("the input " + o.input.string() + " does not exist");
        if (fs::is_directory(st)) {
            kind_ = "images";
            root_ = o.input;
            list_pictures();
        } else if (is_image_path(o.input)) {
            kind_ = "image";
            root_ = o.input.parent_path();
            pictures_.push_back(o.input);
        } else {
            kind_ = "video";
            video_read_options vo;
            vo.max_pixels = o.max_pixels;
            video_ = std::make_unique<video_reader>(o.input, vo);
        }
    }

    const std::string& kind() const { return kind_; }
    bool is_video() const { return video_ != nullptr; }
    std::int64_t total() const {
        return video_ ? video_->info().frame_count : static_cast<std::int64_t>(pictures_.size());
    }
    const video_reader* video() const { return video_.get(); }
    std::string stem() const { return o_stem(); }

    io::json describe() const {
        io::json s = io::json::object();
        s["path"] = fs::absolute(opts_.input).lexically_normal().string();
        s["kind"] = kind_;
        if (video_) {
            const auto& i = video_->info();
            s["width"] = i.width;
            s["height"] = i.height;
            s["fps"] = i.fps;
            s["frame_count"] = i.frame_count;
            s["codec"] = i.codec;
        } else {
            s["pictures"] = static_cast<std::int64_t>(pictures_.size());
        }
        return s;
    }

    /// Moves past frames [0, first) without decoding them to RGB (videos) or reading them (pictures).
    void seek(std::int64_t first) {
        if (video_) {
            while (next_index_ < first && video_->skip()) ++next_index_;
        } else {
            next_index_ = std::min<std::int64_t>(first, static_cast<std::int64_t>(pictures_.size()));
        }
    }

    /// Skips one frame (not worked on); false at the end.
    bool skip() {
        if (video_) {
            if (!video_->skip()) return false;
        } else if (next_index_ >= static_cast<std::int64_t>(pictures_.size())) {
            return false;
        }
        ++next_index_;
        return true;
    }

    std::int64_t next_index() const { return next_index_; }

    /// Reads the next frame; false at the end.
    bool next(source_frame& f) {
        f.error.clear();
        if (video_) {
            video_frame v;
            v.rgb = std::move(f.rgb);
            if (!video_->next(v)) return false;
            f.index = v.index;
            f.time = v.time;
            f.file.clear();
            f.width = v.width;
            f.height = v.height;
            f.rgb = std::move(v.rgb);
            next_index_ = f.index + 1;
            return true;
        }
        if (next_index_ >= static_cast<std::int64_t>(pictures_.size())) return false;
        const fs::path& p = pictures_[static_cast<std::size_t>(next_index_)];
        f.index = next_index_++;
        f.time = 0;
        f.file = kind_ == "image" ? p.filename().generic_string() : p.lexically_relative(root_).generic_string();
        try {
            data::load_options lo;
            lo.max_pixels = opts_.max_pixels;
            const data::image img = data::load_image(p, lo);
            f.width = img.width();
            f.height = img.height();
            f.rgb.resize(static_cast<std::size_t>(f.width * f.height * 3));
            const float* s = img.rgb.data();
            for (std::size_t i = 0; i < f.rgb.size(); ++i)
                f.rgb[i] = static_cast<std::uint8_t>(std::lround(std::clamp(s[i], 0.0f, 1.0f) * 255.0f));
        } catch (const error& e) {
            if (kind_ == "image") throw;  // a single picture that cannot be read is the command's error
            f.error = e.what();
            f.rgb.clear();
            f.width = f.height = 0;
        }
        return true;
    }

private:
    std::string o_stem() const { return kind_ == "video" ? opts_.input.stem().string() : std::string(); }

    // Never read our own output (an output folder inside the input folder). The order is
    // media/pictures.hpp's, which the convert step reads the pictures in again.
    void list_pictures() { pictures_ = media::list_pictures(root_, {opts_.output}); }

    const extract_options& opts_;
    std::string kind_;
    fs::path root_;
    std::vector<fs::path> pictures_;
    std::unique_ptr<video_reader> video_;
    std::int64_t next_index_ = 0;
};

// ---- per-frame work ---------------------------------------------------------------------------

struct detected_face {
    face_box box;
    face::landmarks raw;
    int track = -1;
};

struct worked_frame {
    source_frame frame;
    std::vector<detected_face> faces;
    std::vector<face::dropped_record> dropped;
    std::string error;  // detection failed on this frame (then recorded without faces)
};

face::dropped_record dropped(const face_box& b, const char* reason) {
    face::dropped_record d;
    d.box = {b.left, b.top, b.right, b.bottom};
    d.score = b.score;
    d.reason = reason;
    return d;
}

double box_size(const face_box& b) { return std::sqrt(std::max(0.0, b.width()) * std::max(0.0, b.height())); }

double overlap(const std::array<double, 4>& a, const face_box& b) {
    const double iw = std::min(a[2], b.right) - std::max(a[0], b.left);
    const double ih = std::min(a[3], b.bottom) - std::max(a[1], b.top);
    if (iw <= 0 || ih <= 0) return 0;
    const double inter = iw * ih;
    const double uni = (a[2] - a[0]) * (a[3] - a[1]) + b.width() * b.height() - inter;
    return uni > 0 ? inter / uni : 0;
}

/// Detection, the size and count filters, and landmarks for one frame (thread-safe per detector).
void detect_frame(worked_frame& w, face_detector& detector, const landmark_predictor& predictor, const extract_options& o,
                  double& detect_s, double& landmark_s) {
    const rgb_view view{w.frame.rgb.data(), w.frame.width, w.frame.height};
    auto t0 = clock_type::now();
    std::vector<face_box> boxes = detector.detect(view);
    detect_s += seconds_since(t0);
    std::vector<face_box> kept;
    for (const auto& b : boxes) {
        if (box_size(b) < o.min_size) w.dropped.push_back(dropped(b, "small"));
        else kept.push_back(b);
    }
    // Largest first (ties: higher score first, the detector's order).
    std::stable_sort(kept.begin(), kept.end(), [](const face_box& a, const face_box& b) { return box_size(a) > box_size(b); });
    if (o.max_faces > 0 && static_cast<std::int64_t>(kept.size()) > o.max_faces) {
        for (std::size_t i = static_cast<std::size_t>(o.max_faces); i < kept.size(); ++i) w.dropped.push_back(dropped(kept[i], "max-faces"));
        kept.resize(static_cast<std::size_t>(o.max_faces));
    }
    t0 = clock_type::now();
    const auto points = predictor.predict(view, kept);
    landmark_s += seconds_since(t0);
    for (std::size_t i = 0; i < kept.size(); ++i) w.faces.push_back({kept[i], points[i], -1});
}

std::string face_name(const source_frame& f, const std::string& video_stem, std::size_t k) {
    std::string base;
    if (!video_stem.empty()) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "_%06lld", static_cast<long long>(f.index));
        base = video_stem + buf;
    } else {
        fs::path rel(f.file);
        rel.replace_extension();
        base = rel.generic_string();
        std::replace(base.begin(), base.end(), '/', '_');
    }
    return base + "_" + std::to_string(k);
}

io::json settings_json(const extract_options& o, const face_detector& d, const landmark_predictor& p) {
    io::json s = io::json::object();
    s["size"] = o.align.size;
    s["centering"] = std::string(face::to_string(o.align.centre));
    s["coverage"] = o.align.coverage;
    s["mask"] = to_string(o.mask);
    s["every"] = o.every;
    s["min_size"] = o.min_size;
    s["max_faces"] = o.max_faces;
    s["blur_threshold"] = o.blur_threshold;
    s["smooth"] = o.smooth;
    if (o.smooth) s["smooth_radius"] = o.smooth_radius;
    s["detector"] = d.name();
    if (!o.detector.cnn_model.empty()) s["detector_model"] = fs::absolute(o.detector.cnn_model).lexically_normal().string();
    s["detect_size"] = o.detector.detect_size;
    s["upsample"] = static_cast<std::int64_t>(o.detector.upsample);
    s["detector_threshold"] = o.detector.threshold;
    s["landmarks_model"] = fs::absolute(p.model_path()).lexically_normal().string();
    return s;
}

void make_folder(const fs::path& p) {
    std::error_code ec;
    fs::create_directories(p, ec);
    if (ec || !fs::is_directory(p)) throw io_error("cannot create the folder " + p.string() + " (" + (ec ? ec.message() : "not a folder") + ")");
}

/// The pipeline's state across frames: tracks, pending frames (smoothing looks ahead), outputs.
class extractor {
public:
    extractor(const extract_options& o, frame_source& src, face::alignments& a, const fs::path& out, extract_summary& s,
              int threads)
        : o_(o), src_(src), a_(a), out_(out), s_(s), threads_(threads) {
        for (const auto& f : a_.frames)
            for (const auto& r : f.faces) names_.insert(r.file);
        lookahead_ = o_.smooth ? o_.smooth_radius * o_.every : 0;
        // Resuming with smoothing: the raw landmarks of the frames before the resume point feed
        // the fits of the first frames of this run, as if the run had not stopped.
        if (o_.smooth)
            for (const auto& f : a_.frames) {
                if (!a_.frames.empty() && f.index < a_.frames.back().index - lookahead_) continue;
                std::vector<detected_face> faces;
                for (const auto& r : f.faces) {
                    detected_face d;
                    d.box = {r.box[0], r.box[1], r.box[2], r.box[3], r.score};
                    d.raw = r.detected;
                    faces.push_back(d);
                }
                assign_tracks(f.index, faces);
            }
    }

    /// Takes a frame whose faces were detected (frames in order); the frames that no longer wait
    /// for later ones (smoothing looks ahead) are written by the next flush().
    void push(worked_frame w) {
        if (o_.smooth) assign_tracks(w.frame.index, w.faces);
        pending_.push_back(std::move(w));
        while (!pending_.empty() && pending_.back().frame.index - pending_.front().frame.index >= lookahead_) prepare_oldest();
    }

    /// Writes the frames still waiting (at the end of the source).
    void drain() {
        while (!pending_.empty()) prepare_oldest();
        flush();
    }

    /// Cuts out, masks, scores and writes the faces of the prepared frames, one frame per thread,
    /// then records the frames in order.
    void flush() {
        if (ready_.empty()) return;
        const auto t0 = clock_type::now();
        std::vector<std::exception_ptr> errors(ready_.size());
        auto work = [&](std::size_t t) {
            for (std::size_t i = t; i < ready_.size(); i += static_cast<std::size_t>(threads_)) {
                try {
                    render(ready_[i]);
                } catch (...) {
                    errors[i] = std::current_exception();
                }
            }
        };
        std::vector<std::thread> pool;
        for (std::size_t t = 1; t < std::min<std::size_t>(ready_.size(), static_cast<std::size_t>(threads_)); ++t)
            pool.emplace_back(work, t);
        work(0);
        for (auto& t : pool) t.join();
        for (std::size_t i = 0; i < ready_.size(); ++i) {
            if (errors[i]) {
                ready_.clear();
                std::rethrow_exception(errors[i]);
            }
            auto& rec = ready_[i].record;
            if (!rec.faces.empty()) ++s_.frames_with_faces;
            s_.faces_kept += static_cast<std::int64_t>(rec.faces.size());
            a_.frames.push_back(std::move(rec));
        }
        ready_.clear();
        write_seconds += seconds_since(t0);
    }

    double write_seconds = 0;

private:
    void assign_tracks(std::int64_t index, std::vector<detected_face>& faces) {
        // Greedy matching by box overlap with each track's last box, within the smoothing window.
        std::vector<std::tuple<double, std::size_t, int>> pairs;
        for (std::size_t i = 0; i < faces.size(); ++i)
            for (const auto& [id, t] : tracks_) {
                if (index - t.last_index > lookahead_) continue;
                const double iou = overlap(t.last_box, faces[i].box);
                if (iou >= track_min_overlap) pairs.emplace_back(iou, i, id);
            }
        std::sort(pairs.begin(), pairs.end(), [](const auto& x, const auto& y) { return std::get<0>(x) > std::get<0>(y); });
        std::set<int> used;
        for (const auto& [iou, i, id] : pairs) {
            if (faces[i].track >= 0 || used.count(id)) continue;
            faces[i].track = id;
            used.insert(id);
        }
        for (auto& f : faces) {
            if (f.track < 0) f.track = next_track_++;
            auto& t = tracks_[f.track];
            t.last_index = index;
            t.last_box = {f.box.left, f.box.top, f.box.right, f.box.bottom};
            t.points.emplace_back(index, f.raw);
        }
        // Forget what no fit can reach any more.
        for (auto it = tracks_.begin(); it != tracks_.end();) {
            auto& pts = it->second.points;
            while (!pts.empty() && pts.front().first < index - 2 * lookahead_ - o_.every) pts.pop_front();
            if (pts.empty()) it = tracks_.erase(it);
            else ++it;
        }
    }

    face::landmarks smoothed(const detected_face& f, std::int64_t index) const {
        const auto it = tracks_.find(f.track);
        if (it == tracks_.end()) return f.raw;
        std::vector<face::landmarks> window;
        std::vector<std::int64_t> frames;
        for (const auto& [i, l] : it->second.points)
            if (std::abs(i - index) <= lookahead_) {
                window.push_back(l);
                frames.push_back(i);
            }
        if (window.size() < 2) return f.raw;
        const int order = static_cast<int>(std::min<std::size_t>(2, window.size() - 1));
        return face::smooth_at(std::span<const face::landmarks>(window), std::span<const std::int64_t>(frames), index, order);
    }

    /// A frame whose landmarks are final: the record to fill, the frame, and per face its file name.
    struct ready_frame {
        face::frame_record record;
        source_frame frame;
        std::vector<face::face_record> faces;  // landmarks, box, score and file name set
    };

    /// Smooths the oldest pending frame's landmarks and names its faces (in frame order, so names
    /// never depend on the threads), and queues it for flush().
    void prepare_oldest() {
        worked_frame w = std::move(pending_.front());
        pending_.pop_front();
        ready_frame r;
        r.record.index = w.frame.index;
        r.record.time = w.frame.time;
        r.record.file = w.frame.file;
        if (!src_.is_video()) {  // a folder's pictures may differ in size: the convert step checks each
            r.record.width = w.frame.width;
            r.record.height = w.frame.height;
        }
        r.record.dropped = std::move(w.dropped);
        for (std::size_t k = 0; k < w.faces.size(); ++k) {
            const auto& f = w.faces[k];
            face::face_record fr;
            fr.box = {f.box.left, f.box.top, f.box.right, f.box.bottom};
            fr.score = f.box.score;
            fr.detected = f.raw;
            fr.points = o_.smooth ? smoothed(f, w.frame.index) : f.raw;
            fr.smoothed = o_.smooth;
            std::string name = face_name(w.frame, src_.stem(), k);
            if (names_.count(name + ".png")) name += "_" + std::to_string(w.frame.index);  // two pictures, one name
            fr.file = name + ".png";
            names_.insert(fr.file);
            r.faces.push_back(std::move(fr));
        }
        r.frame = std::move(w.frame);
        ready_.push_back(std::move(r));
    }

    /// Aligns, cuts out and scores the faces of a ready frame; writes the sharp ones and their masks.
    void render(ready_frame& r) const {
        if (r.faces.empty()) return;
        const tensor frame = video_frame{0, 0, r.frame.width, r.frame.height, std::move(r.frame.rgb)}.to_tensor();
        const std::int64_t size = o_.align.size;
        for (auto& fr : r.faces) {
            fr.matrix = face::frame_to_crop_matrix(fr.points, o_.align);
            const tensor crop = face::warp_to_crop(frame, fr.matrix, size);
            const face::landmarks in_crop = face::transform_landmarks(fr.points, fr.matrix);
            const tensor components = face::components_mask(in_crop, size);
            const bool resized = size != blur_measure_size;
            fr.blur = face::blur_score(resized ? data::resize_area(crop, blur_measure_size, blur_measure_size) : crop,
                                       resized ? data::resize_area(components, blur_measure_size, blur_measure_size) : components);
            if (fr.blur < o_.blur_threshold) {
                face::dropped_record d;
                d.box = fr.box;
                d.score = fr.score;
                d.reason = "blurry";
                r.record.dropped.push_back(d);
                continue;
            }
            const tensor face_mask = o_.mask == face_mask_kind::components ? components : face::extended_mask(in_crop, size);
            data::save_png(out_ / fr.file, crop);
            data::save_png(out_ / "masks" / fr.file, face_mask);
            data::save_png(out_ / "masks-eye" / fr.file, face::eye_mask(in_crop, size));
            data::save_png(out_ / "masks-mouth" / fr.file, face::mouth_mask(in_crop, size));
            r.record.faces.push_back(fr);
        }
    }

    struct track {
        std::int64_t last_index = 0;
        std::array<double, 4> last_box{};
        std::deque<std::pair<std::int64_t, face::landmarks>> points;
    };

    const extract_options& o_;
    frame_source& src_;
    face::alignments& a_;
    fs::path out_;
    extract_summary& s_;
    std::int64_t lookahead_ = 0;
    int threads_ = 1;
    std::deque<worked_frame> pending_;
    std::vector<ready_frame> ready_;
    std::map<int, track> tracks_;
    int next_track_ = 0;
    std::set<std::string> names_;
};

/// Fills the summary's counts from every frame the alignments record (this run and earlier ones).
void count(const face::alignments& a, extract_summary& s) {
    s.frames_worked = static_cast<std::int64_t>(a.frames.size());
    s.frames_with_faces = s.faces_kept = s.dropped_small = s.dropped_max_faces = s.dropped_blurry = 0;
    for (const auto& f : a.frames) {
        if (!f.faces.empty()) ++s.frames_with_faces;
        s.faces_kept += static_cast<std::int64_t>(f.faces.size());
        for (const auto& d : f.dropped) {
            if (d.reason == "small") ++s.dropped_small;
            else if (d.reason == "max-faces") ++s.dropped_max_faces;
            else if (d.reason == "blurry") ++s.dropped_blurry;
        }
    }
    s.faces_found = s.faces_kept + s.dropped_small + s.dropped_max_faces + s.dropped_blurry;
}

}  // namespace

extract_summary extract_faces(const extract_options& o, const std::function<void(const extract_progress&)>& progress,
                              const std::atomic<bool>* stop) {
    const auto start = clock_type::now();
    validate(o);
    extract_summary s;

    frame_source src(o);
    s.source_kind = src.kind();
    // The two models load at the same time (each takes the better part of a second); the other
    // threads' detectors are copies of the first.
    std::optional<landmark_predictor> loaded;
    std::exception_ptr load_error;
    std::thread loader([&] {
        try {
            loaded.emplace(o.landmarks_model);
        } catch (...) {
            load_error = std::current_exception();
        }
    });
    const int threads = std::max(1, o.threads > 0 ? o.threads : static_cast<int>(std::thread::hardware_concurrency()));
    std::vector<face_detector> detectors;
    try {
        detectors.emplace_back(o.detector);
    } catch (...) {
        loader.join();
        throw;
    }
    loader.join();
    if (load_error) std::rethrow_exception(load_error);
    const landmark_predictor& predictor = *loaded;
    for (int t = 1; t < threads; ++t) detectors.push_back(detectors.front().clone());

    for (const char* sub : {"", "masks", "masks-eye", "masks-mouth"}) make_folder(o.output / sub);
    s.alignments_file = o.output / "alignments.json";

    face::alignments a;
    a.source = src.describe();
    a.settings = settings_json(o, detectors.front(), predictor);
    std::error_code ec;
    if (fs::exists(s.alignments_file, ec)) {
        face::alignments before;
        try {
            before = face::read_alignments(s.alignments_file);
        } catch (const error& e) {
            throw io_error(std::string(e.what()) + "; remove it or extract into another folder");
        }
        if (before.source != a.source)
            throw value_error("the output folder " + o.output.string() + " holds faces extracted from another input (" +
                              before.source.dump() + "); extract into another folder or remove it");
        if (before.settings != a.settings)
            throw value_error("the output folder " + o.output.string() + " holds faces extracted with other settings (" +
                              before.settings.dump() + ", now " + a.settings.dump() + "); extract into another folder or remove it");
        a = std::move(before);
        if (a.complete) {
            s.already_complete = true;
            count(a, s);
            s.frames_read = a.frames.empty() ? 0 : a.frames.back().index + 1;
            if (src.is_video() && src.total() > s.frames_read) s.frames_read = src.total();
            s.seconds = seconds_since(start);
            return s;
        }
        if (!a.frames.empty()) {
            s.resumed_at = a.frames.back().index + 1;
            src.seek(s.resumed_at);
        } else {
            s.resumed_at = 0;
        }
    }

    extractor ex(o, src, a, o.output, s, threads);
    count(a, s);
    const std::int64_t kept_before = s.faces_kept;
    s.faces_kept = 0;
    auto last_save = clock_type::now();
    const std::int64_t first_index = src.next_index();
    auto save = [&](bool complete) {
        a.complete = complete;
        face::write_alignments(s.alignments_file, a);
        last_save = clock_type::now();
    };

    std::vector<worked_frame> batch;
    std::vector<double> detect_s(static_cast<std::size_t>(threads)), landmark_s(static_cast<std::size_t>(threads));
    bool ended = false;
    try {
        while (!ended) {
            if (stop && stop->load()) {
                s.stopped = true;
                break;
            }
            // Read up to `threads` worked frames (skipping the ones --every passes over).
            batch.clear();
            const auto t_read = clock_type::now();
            while (static_cast<int>(batch.size()) < threads) {
                while (src.next_index() % o.every != 0)
                    if (!src.skip()) break;
                worked_frame w;
                if (!src.next(w.frame)) {
                    ended = true;
                    break;
                }
                if (!w.frame.error.empty()) {
                    s.warnings.push_back(w.frame.file + ": skipped, " + w.frame.error);
                    ++s.unreadable;
                    continue;
                }
                batch.push_back(std::move(w));
            }
            s.decode_seconds += seconds_since(t_read);
            // Detection and landmarks on the threads, one frame each.
            std::vector<std::exception_ptr> errors(batch.size());
            auto work = [&](std::size_t t) {
                for (std::size_t i = t; i < batch.size(); i += static_cast<std::size_t>(threads)) {
                    try {
                        detect_frame(batch[i], detectors[t], predictor, o, detect_s[t], landmark_s[t]);
                    } catch (...) {
                        errors[i] = std::current_exception();
                    }
                }
            };
            std::vector<std::thread> pool;
            for (std::size_t t = 1; t < std::min<std::size_t>(batch.size(), static_cast<std::size_t>(threads)); ++t) pool.emplace_back(work, t);
            work(0);
            for (auto& t : pool) t.join();
            for (std::size_t i = 0; i < batch.size(); ++i) {
                if (errors[i]) std::rethrow_exception(errors[i]);
                ex.push(std::move(batch[i]));
            }
            ex.flush();
            if (seconds_since(last_save) >= o.save_seconds) save(false);
            if (progress) {
                extract_progress p;
                p.frames_read = src.next_index();
                p.frames_total = src.total();
                p.faces_kept = kept_before + s.faces_kept;
                const double t = seconds_since(start);
                p.frames_per_second = t > 0 ? double(src.next_index() - first_index) / t : 0;
                if (p.frames_total > 0 && p.frames_per_second > 0)
                    p.seconds_left = double(std::max<std::int64_t>(0, p.frames_total - p.frames_read)) / p.frames_per_second;
                progress(p);
            }
        }
        // At the end every waiting frame is written. After a stop they are not: their smoothing
        // fits would lack the frames after them, and the resumed run reads them again.
        if (!s.stopped) ex.drain();
    } catch (...) {
        // Keep what was done: the frames already written are recorded before the error goes up.
        try {
            save(false);
        } catch (...) {
        }
        throw;
    }
    save(!s.stopped);
    s.write_seconds = ex.write_seconds;
    for (int t = 0; t < threads; ++t) {
        s.detect_seconds += detect_s[static_cast<std::size_t>(t)];
        s.landmark_seconds += landmark_s[static_cast<std::size_t>(t)];
    }
    if (const video_reader* v = src.video(); v && !s.stopped && v->truncated()) {
        s.truncated = true;
        s.truncation_message = v->truncation_message();
    }
    count(a, s);
    s.frames_read = src.next_index();
    s.seconds = seconds_since(start);
    return s;
}

}  // namespace hg::media
