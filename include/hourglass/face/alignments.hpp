// hg::face::alignments: the alignments file that face extraction writes beside the faces and the
// convert step reads: which faces were found in which frame of which source, and how each face
// was cut out. JSON (io/json.hpp), one document, written atomically (temporary file, fsync,
// rename), so a crash leaves the previous complete file; format and fields in docs/extract.md.
//
//   {"format": "hourglass-alignments", "version": 1,
//    "source": {"path", "kind": "video"|"images"|"image", "width", "height", "fps", "frame_count"},
//    "settings": {...the extraction options that shape the faces...},
//    "complete": false,                   // true once the whole source was read
//    "frames": [{"index": 0, "time": 0.0, "file": "",        // file: the picture's path (images)
//                "width": 520, "height": 400,           // the picture's size (pictures only; optional)
//                "faces": [{"file": "clip_000000_0.png", "box": [l, t, r, b], "score": 1.52,
//                           "landmarks": [[x, y] x 68], "detected": [[x, y] x 68] (only when
//                           smoothing moved them), "matrix": [[a, b, c], [d, e, f]], "blur": 85.3}],
//                "dropped": [{"box": [...], "score": 0.4, "reason": "small"}]}]}
//
// Coordinates are frame pixels with pixel centres at integers; "matrix" maps frame pixels to the
// aligned face's pixels (the cv2.warpAffine convention), "landmarks" are the points it was
// computed from. Frames are listed in reading order, each frame once, also when it has no face
// (so a resumed extraction knows where to continue).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/data/image_io.hpp"
#include "hourglass/data/transform.hpp"
#include "hourglass/face/landmarks.hpp"
#include "hourglass/io/json.hpp"
#include "hourglass/io/regular_file.hpp"

namespace hg::face {

inline constexpr const char* alignments_format = "hourglass-alignments";
inline constexpr std::int64_t alignments_version = 1;

struct face_record {
    std::string file;                       ///< the aligned face's file name, relative to the output folder
    std::array<double, 4> box{};            ///< detector box: left, top, right, bottom
    double score = 0;                       ///< detector score
    landmarks points = landmarks::Zero();   ///< the landmarks the matrix was computed from
    bool smoothed = false;                  ///< `detected` differs from `points` (temporal smoothing)
    landmarks detected = landmarks::Zero(); ///< the landmarks as predicted, before smoothing
    data::affine2 matrix;                   ///< frame pixels -> aligned face pixels
    double blur = 0;                        ///< the face's blur score (variance of the Laplacian)
};

struct dropped_record {
    std::array<double, 4> box{};
    double score = 0;
    std::string reason;  ///< "small", "blurry", "max-faces", "outside"
};

struct frame_record {
    std::int64_t index = 0;  ///< 0-based frame (video) or picture (folder) number
    double time = 0;         ///< presentation time in seconds (0 for pictures)
    std::string file;        ///< the picture's path relative to the input folder (pictures only)
    std::int64_t width = 0, height = 0;  ///< the picture's size (pictures only; 0: not recorded)
    std::vector<face_record> faces;
    std::vector<dropped_record> dropped;
};

struct alignments {
    io::json source = io::json::object();
    io::json settings = io::json::object();
    bool complete = false;
    std::vector<frame_record> frames;

    std::int64_t face_count() const {
        std::int64_t n = 0;
        for (const auto& f : frames) n += static_cast<std::int64_t>(f.faces.size());
        return n;
    }
};

namespace alignments_detail {

inline io::json points_json(const landmarks& l) {
    io::json a = io::json::array();
    for (int i = 0; i < landmark_count; ++i) a.push_back(io::json::array({l(i, 0), l(i, 1)}));
    return a;
}

inline io::json box_json(const std::array<double, 4>& b) { return io::json::array({b[0], b[1], b[2], b[3]}); }

[[noreturn]] inline void bad(const std::string& name, const std::string& what) {
    throw format_error("the alignments file " + name + " is not valid: " + what);
}

inline double finite_number(const io::json& v, const std::string& name, const std::string& what) {
    if (!v.is_number()) bad(name, what + " is not a number");
    const double d = v.as_double();
    if (!std::isfinite(d)) bad(name, what + " is not finite");
    return d;
}

inline landmarks points_from(const io::json& v, const std::string& name, const std::string& what) {
    if (!v.is_array() || v.size() != landmark_count) bad(name, what + " is not a list of 68 points");
    landmarks l;
    for (int i = 0; i < landmark_count; ++i) {
        const auto& p = v.at(std::size_t(i));
        if (!p.is_array() || p.size() != 2) bad(name, what + " point " + std::to_string(i) + " is not [x, y]");
        l(i, 0) = finite_number(p.at(0), name, what);
        l(i, 1) = finite_number(p.at(1), name, what);
    }
    return l;
}

inline std::array<double, 4> box_from(const io::json& v, const std::string& name, const std::string& what) {
    if (!v.is_array() || v.size() != 4) bad(name, what + " is not [left, top, right, bottom]");
    std::array<double, 4> b{};
    for (std::size_t i = 0; i < 4; ++i) b[i] = finite_number(v.at(i), name, what);
    return b;
}

}  // namespace alignments_detail

inline io::json to_json(const alignments& a) {
    using namespace alignments_detail;
    io::json doc = io::json::object();
    doc["format"] = alignments_format;
    doc["version"] = alignments_version;
    doc["source"] = a.source;
    doc["settings"] = a.settings;
    doc["complete"] = a.complete;
    io::json frames = io::json::array();
    for (const auto& f : a.frames) {
        io::json fj = io::json::object();
        fj["index"] = f.index;
        fj["time"] = f.time;
        fj["file"] = f.file;
        if (f.width > 0 && f.height > 0) {
            fj["width"] = f.width;
            fj["height"] = f.height;
        }
        io::json faces = io::json::array();
        for (const auto& r : f.faces) {
            io::json rj = io::json::object();
            rj["file"] = r.file;
            rj["box"] = box_json(r.box);
            rj["score"] = r.score;
            rj["landmarks"] = points_json(r.points);
            if (r.smoothed) rj["detected"] = points_json(r.detected);
            const auto& m = r.matrix;
            rj["matrix"] = io::json::array({io::json::array({m.a, m.b, m.c}), io::json::array({m.d, m.e, m.f})});
            rj["blur"] = r.blur;
            faces.push_back(std::move(rj));
        }
        fj["faces"] = std::move(faces);
        io::json dropped = io::json::array();
        for (const auto& d : f.dropped) {
            io::json dj = io::json::object();
            dj["box"] = box_json(d.box);
            dj["score"] = d.score;
            dj["reason"] = d.reason;
            dropped.push_back(std::move(dj));
        }
        fj["dropped"] = std::move(dropped);
        frames.push_back(std::move(fj));
    }
    doc["frames"] = std::move(frames);
    return doc;
}

/// Reads an alignments document; format_error naming `name` and what is wrong.
inline alignments from_json(const io::json& doc, const std::string& name) {
    using namespace alignments_detail;
    if (!doc.is_object()) bad(name, "the document is not a JSON object");
    const auto* fmt = doc.find("format");
    if (!fmt || !fmt->is_string() || fmt->as_string() != alignments_format)
        bad(name, std::string("it is not an hourglass alignments file (no \"format\": \"") + alignments_format + "\")");
    const auto* ver = doc.find("version");
    if (!ver || !ver->is_int()) bad(name, "it has no integer \"version\"");
    if (ver->as_int() < 1 || ver->as_int() > alignments_version)
        throw format_error("the alignments file " + name + " has version " + std::to_string(ver->as_int()) +
                           "; this build reads versions 1 to " + std::to_string(alignments_version));
    alignments a;
    try {
        a.source = doc.at("source");
        a.settings = doc.at("settings");
        a.complete = doc.at("complete").as_bool();
        std::int64_t previous = -1;
        for (const auto& fj : doc.at("frames").as_array()) {
            frame_record f;
            f.index = fj.at("index").as_int();
            if (f.index <= previous) bad(name, "frame " + std::to_string(f.index) + " is out of order");
            previous = f.index;
            f.time = finite_number(fj.at("time"), name, "a frame time");
            f.file = fj.at("file").as_string();
            if (const auto* w = fj.find("width")) f.width = w->as_int();
            if (const auto* h = fj.find("height")) f.height = h->as_int();
            for (const auto& rj : fj.at("faces").as_array()) {
                face_record r;
                const std::string where = "frame " + std::to_string(f.index) + " face " + std::to_string(f.faces.size());
                r.file = rj.at("file").as_string();
                r.box = box_from(rj.at("box"), name, where + " box");
                r.score = finite_number(rj.at("score"), name, where + " score");
                r.points = points_from(rj.at("landmarks"), name, where + " landmarks");
                if (const auto* d = rj.find("detected")) {
                    r.smoothed = true;
                    r.detected = points_from(*d, name, where + " detected landmarks");
                } else {
                    r.detected = r.points;
                }
                const auto& mj = rj.at("matrix");
                if (!mj.is_array() || mj.size() != 2 || !mj.at(0).is_array() || mj.at(0).size() != 3 || !mj.at(1).is_array() ||
                    mj.at(1).size() != 3)
                    bad(name, where + " matrix is not 2 x 3");
                double m[6];
                for (std::size_t i = 0; i < 6; ++i) m[i] = finite_number(mj.at(i / 3).at(i % 3), name, where + " matrix");
                r.matrix = data::affine2{m[0], m[1], m[2], m[3], m[4], m[5]};
                if (!(std::abs(m[0] * m[4] - m[1] * m[3]) > 0)) bad(name, where + " matrix is not invertible");
                r.blur = finite_number(rj.at("blur"), name, where + " blur");
                f.faces.push_back(std::move(r));
            }
            for (const auto& dj : fj.at("dropped").as_array()) {
                dropped_record d;
                d.box = box_from(dj.at("box"), name, "a dropped box");
                d.score = finite_number(dj.at("score"), name, "a dropped score");
                d.reason = dj.at("reason").as_string();
                f.dropped.push_back(std::move(d));
            }
            a.frames.push_back(std::move(f));
        }
    } catch (const format_error& e) {
        const std::string what = e.what();
        if (what.rfind("the alignments file", 0) == 0) throw;
        bad(name, what);
    }
    return a;
}

/// Writes the file atomically (temporary file, fsync, rename): io_error when it cannot be written,
/// the previous file then unchanged.
inline void write_alignments(const std::filesystem::path& path, const alignments& a) {
    const std::string text = to_json(a).dump();
    data::write_file_atomic(path, std::vector<unsigned char>(text.begin(), text.end()));
}

/// Reads an alignments file: io_error when it cannot be read, format_error when it is not one.
/// Only a regular file of at most max_alignments_bytes is read (a named pipe is refused, not
/// waited on).
inline constexpr std::uint64_t max_alignments_bytes = std::uint64_t(4) << 30;
inline alignments read_alignments(const std::filesystem::path& path) {
    const std::string text = io::read_regular_file<std::string>(path, max_alignments_bytes, [&](const std::string& why) {
        throw io_error("cannot read the alignments file " + path.string() + ": " + why);
    });
    io::json doc;
    try {
        doc = io::json::parse(text);
    } catch (const format_error& e) {
        throw format_error("the alignments file " + path.string() + " is not valid JSON (" + e.what() + ")");
    }
    return from_json(doc, path.string());
}

}  // namespace hg::face
