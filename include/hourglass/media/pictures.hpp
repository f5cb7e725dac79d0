// Pictures as a source of frames, the way face extraction reads them and the convert step reads
// them again: a folder of pictures (searched recursively, every .png, .jpg, .jpeg, .bmp or .tga,
// sorted by their path below the folder, byte-wise, '/' as separator) or a single picture. Picture
// i of that order is "frame" i of the alignments file (face/alignments.hpp), and its path below
// the folder is the frame's `file` (the file name alone for a single picture).
//
// picture_reader::next() gives each picture as extraction sees it: decoded (data/image_io.hpp),
// alpha dropped, rounded to 8 bits per channel (a 16-bit PNG loses its low bits) and converted to
// floats exactly as a decoded video frame is (media/video.hpp, video_frame::to_tensor), so the
// alignment matrices of the alignments file apply to the very same pixels.
//
// check_alignments() is the convert step's check that an alignments file was made from these
// pictures: the same kind of source, the same number of pictures, the same picture at every frame
// index the file lists and, where the file records it, the same size. value_error naming the
// alignments file, the input and the first difference otherwise.
//
// Header-only; needs no FFmpeg or dlib header.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/data/image_io.hpp"
#include "hourglass/face/alignments.hpp"
#include "hourglass/media/video.hpp"

namespace hg::media {

/// The pictures of `root` (recursively), sorted by their path below it; never anything in the
/// folders `exclude` names (output folders inside the input folder). io_error when the folder
/// cannot be read or holds no picture.
inline std::vector<std::filesystem::path> list_pictures(const std::filesystem::path& root,
                                                        const std::vector<std::filesystem::path>& exclude = {}) {
    namespace fs = std::filesystem;
    std::vector<fs::path> pictures;
    std::error_code ec;
    fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end;
    if (ec) throw io_error("cannot read the input folder " + root.string() + " (" + ec.message() + ")");
    std::vector<fs::path> skip;
    for (const auto& e : exclude)
        if (!e.empty()) skip.push_back(fs::weakly_canonical(e, ec));
    for (; it != end; it.increment(ec)) {
        if (ec) throw io_error("cannot read the input folder " + root.string() + " (" + ec.message() + ")");
        std::error_code sec;
        if (it->is_directory(sec)) {
            if (!skip.empty() && std::find(skip.begin(), skip.end(), fs::weakly_canonical(it->path(), sec)) != skip.end())
                it.disable_recursion_pending();
            continue;
        }
        if (is_image_path(it->path())) pictures.push_back(it->path());
    }
    std::sort(pictures.begin(), pictures.end(), [&](const fs::path& a, const fs::path& b) {
        return a.lexically_relative(root).generic_string() < b.lexically_relative(root).generic_string();
    });
    if (pictures.empty()) throw io_error("the input folder " + root.string() + " has no pictures (.png, .jpg, .jpeg, .bmp, .tga)");
    return pictures;
}

/// One picture read by picture_reader.
struct picture_frame {
    std::int64_t index = 0;  ///< its place in the sorted order (the alignments' frame index)
    std::string file;        ///< its path below the folder ('/'-separated), or its file name (a single picture)
    std::filesystem::path path;
    tensor rgb;              ///< [H, W, 3] in [0, 1], 8-bit values; undefined when it could not be read
    std::string error;       ///< why it could not be read (then rgb is undefined)
};

/// Reads a folder of pictures (or one picture) in extraction's order.
class picture_reader {
public:
    /// `input`: a folder or a picture file; `exclude`: folders inside it never to read.
    explicit picture_reader(const std::filesystem::path& input, const std::vector<std::filesystem::path>& exclude = {},
                            std::int64_t max_pixels = 64'000'000)
        : max_pixels_(max_pixels) {
        namespace fs = std::filesystem;
        std::error_code ec;
        const auto st = fs::status(input, ec);
        if (ec || !fs::exists(st)) throw io_error("the input " + input.string() + " does not exist");
        if (fs::is_directory(st)) {
            kind_ = "images";
            root_ = input;
            pictures_ = list_pictures(input, exclude);
        } else if (is_image_path(input)) {
            kind_ = "image";
            root_ = input.parent_path();
            pictures_.push_back(input);
        } else {
            throw value_error("the input " + input.string() + " is neither a folder nor a picture (.png, .jpg, .jpeg, .bmp, .tga)");
        }
    }

    /// "images" (a folder) or "image" (one picture), as the alignments file's source kind.
    const std::string& kind() const { return kind_; }
    const std::filesystem::path& root() const { return root_; }
    std::int64_t count() const { return static_cast<std::int64_t>(pictures_.size()); }
    const std::vector<std::filesystem::path>& paths() const { return pictures_; }

    /// The name of picture i as the alignments file records it.
    std::string file(std::int64_t i) const {
        const auto& p = pictures_.at(static_cast<std::size_t>(i));
        return kind_ == "image" ? p.filename().generic_string() : p.lexically_relative(root_).generic_string();
    }

    /// Reads the next picture; false after the last. A picture that cannot be read comes back with
    /// `error` set (a single picture: io_error instead).
    bool next(picture_frame& f) {
        if (next_ >= count()) return false;
        f.index = next_;
        f.file = file(next_);
        f.path = pictures_[static_cast<std::size_t>(next_)];
        f.error.clear();
        f.rgb = tensor();
        ++next_;
        try {
            data::load_options lo;
            lo.max_pixels = max_pixels_;
            const data::image img = data::load_image(f.path, lo);
            f.rgb = tensor::empty(img.rgb.shape());
            const float* s = img.rgb.data();
            float* d = f.rgb.data();
            // Rounded to 8 bits, then scaled as video_frame::to_tensor does, so these are the
            // pixels extraction aligned.
            for (std::int64_t i = 0; i < img.rgb.numel(); ++i)
                d[i] = static_cast<float>(static_cast<std::uint8_t>(std::lround(std::clamp(s[i], 0.0f, 1.0f) * 255.0f))) * (1.0f / 255.0f);
        } catch (const error& e) {
            if (kind_ == "image") throw;
            f.error = e.what();
            f.rgb = tensor();
        }
        return true;
    }

    /// value_error unless `a` (read from `alignments_file`) was made from these pictures; see the
    /// file comment. `input` names the input in the message.
    void check_alignments(const face::alignments& a, const std::filesystem::path& alignments_file,
                          const std::filesystem::path& input) const {
        const std::string head = "the alignments file " + alignments_file.string();
        const auto* kind = a.source.find("kind");
        const std::string their = kind && kind->is_string() ? kind->as_string() : std::string("?");
        if (their == "video") {
            std::string msg = head;
            msg += " was made from a video, not from the pictures of ";
            msg += input.string();
            throw value_error(msg);
        }
        if (their != kind_) {
            std::string msg = head;
            msg += " was made from ";
            msg += their == "image" ? "a single picture" : "a folder of pictures";
            msg += ", not from ";
            msg += kind_ == "image" ? "a single picture like " : "a folder like ";
            msg += input.string();
            throw value_error(msg);
        }
        const auto* n = a.source.find("pictures");
        if (kind_ == "images" && n && n->is_int() && n->as_int() != count()) {
            std::string msg = head;
            msg += " was made from another folder (" + std::to_string(n->as_int()) + " pictures) than ";
            msg += input.string() + " (" + std::to_string(count()) + " pictures)";
            throw value_error(msg);
        }
        for (const auto& f : a.frames) {
            if (f.index < 0 || f.index >= count()) {
                std::string msg = head;
                msg += " lists picture " + std::to_string(f.index) + " (" + f.file + "), but ";
                msg += input.string() + " has " + std::to_string(count()) + " pictures";
                throw value_error(msg);
            }
            if (f.file != file(f.index)) {
                std::string msg = head;
                msg += " was made from other pictures: its picture " + std::to_string(f.index) + " is '" + f.file;
                msg += "', in " + input.string() + " it is '" + file(f.index) + "'";
                throw value_error(msg);
            }
        }
    }

    /// value_error unless the picture `path` (w x h) has the size the alignments file recorded for
    /// its frame `r` (where it recorded one; older files did not) and every face `r` lists lies in it.
    static void check_size(const face::frame_record& r, const std::filesystem::path& path, std::int64_t w, std::int64_t h,
                           const std::filesystem::path& alignments_file) {
        bool ok = (r.width <= 0 || r.width == w) && (r.height <= 0 || r.height == h);
        for (const auto& face : r.faces) {
            const double cx = 0.5 * (face.box[0] + face.box[2]), cy = 0.5 * (face.box[1] + face.box[3]);
            if (!(cx >= 0 && cy >= 0 && cx < double(w) && cy < double(h))) ok = false;
        }
        if (ok) return;
        std::string msg = "the alignments file " + alignments_file.string();
        msg += " was made from another picture '" + r.file + "'";
        if (r.width > 0 && r.height > 0) msg += " (" + std::to_string(r.width) + "x" + std::to_string(r.height) + ")";
        msg += " than " + path.string() + " (" + std::to_string(w) + "x" + std::to_string(h) + ")";
        throw value_error(msg);
    }

private:
    std::int64_t max_pixels_;
    std::string kind_;
    std::filesystem::path root_;
    std::vector<std::filesystem::path> pictures_;
    std::int64_t next_ = 0;
};

}  // namespace hg::media
