// hourglass-swap convert: a video or a folder of pictures and its alignments file in, the same
// frames out with every listed face swapped (hg::swap::frame_converter). From a video: a video at
// the source's size, frame rate and time stamps, with the source's audio streams copied as they
// are, or a folder of frames (frame_000000.png, ...). From pictures (media/pictures.hpp, read in the
// order extraction read them): a folder of PNG pictures under the same names (the same subfolders,
// the extension replaced by .png), or a video at --fps. Frames are read on one thread, converted on
// the calling thread (the model, in batches of frames) and written on a third, with bounded queues
// between them. Needs the media component.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "hourglass/face/alignments.hpp"
#include "hourglass/swap/convert.hpp"
#include "hourglass/train/stop_criteria.hpp"

#if HG_WITH_MEDIA
#include "hourglass/media/pictures.hpp"
#include "hourglass/media/video.hpp"
#endif

namespace faceswap {

struct convert_command_options {
    std::filesystem::path input, alignments, model, output;
    std::string direction = "a2b";
    std::string mask = "extended";
    double erode = 0, blur = 0, sharpen = 0;
    std::string color = "rct";
    bool seamless = false;
    std::string codec = "libx264";
    int crf = 18;
    std::string preset = "medium";
    std::string device = "auto";
    int threads = 0;
    std::int64_t batch = 4;  ///< frames converted per model call
    double fps = 25;         ///< the frame rate of a video made from pictures
};

/// A queue of at most `capacity` items between two threads; close() ends it.
template <class T>
class bounded_queue {
public:
    explicit bounded_queue(std::size_t capacity) : capacity_(capacity) {}
    /// false when the queue was closed (the item is dropped).
    bool push(T item) {
        std::unique_lock lock(m_);
        not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
        if (closed_) return false;
        items_.push_back(std::move(item));
        not_empty_.notify_one();
        return true;
    }
    /// nullopt when the queue is closed and empty.
    std::optional<T> pop() {
        std::unique_lock lock(m_);
        not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
        if (items_.empty()) return std::nullopt;
        T item = std::move(items_.front());
        items_.pop_front();
        not_full_.notify_one();
        return item;
    }
    void close() {
        std::lock_guard lock(m_);
        closed_ = true;
        not_empty_.notify_all();
        not_full_.notify_all();
    }

private:
    std::size_t capacity_;
    std::deque<T> items_;
    bool closed_ = false;
    std::mutex m_;
    std::condition_variable not_full_, not_empty_;
};

#if HG_WITH_MEDIA
namespace convert_detail {

struct frame_item {
    std::int64_t index = 0;
    std::int64_t pts = hg::media::no_pts, duration = 0;
    hg::tensor rgb;
    std::string file;               ///< pictures: the path below the input folder
    std::filesystem::path path;     ///< pictures: the file read
    std::string error;              ///< pictures: why it could not be read (then skipped)
};

/// The alignments' source must be this input: same kind, size and frame count.
inline void check_source(const hg::face::alignments& a, const std::filesystem::path& file, const hg::media::video_info& info,
                         const std::filesystem::path& input) {
    const auto& s = a.source;
    const auto* kind = s.find("kind");
    if (!kind || kind->as_string() != "video") {
        std::string msg = "the alignments file " + file.string();
        msg += " was made from pictures, not from a video like ";
        msg += input.string();
        throw hg::value_error(msg);
    }
    const std::int64_t w = s.at("width").as_int(), h = s.at("height").as_int(), n = s.at("frame_count").as_int();
    if (w != info.width || h != info.height || n != info.frame_count) {
        std::string msg = "the alignments file " + file.string();
        msg += " was made from another video (" + std::to_string(w) + "x" + std::to_string(h) + ", " + std::to_string(n);
        msg += " frames) than " + input.string();
        msg += " (" + std::to_string(info.width) + "x" + std::to_string(info.height) + ", " + std::to_string(info.frame_count);
        msg += " frames)";
        throw hg::value_error(msg);
    }
}

/// The output name of every picture: its path below the input folder with the extension replaced
/// by .png (a single picture into a .png file: that file). value_error when two pictures would
/// share a name (photo.jpg and photo.png) or the output is the input folder itself.
inline std::vector<std::filesystem::path> picture_outputs(const hg::media::picture_reader& r, const std::filesystem::path& input,
                                                          const std::filesystem::path& output, bool to_file) {
    namespace fs = std::filesystem;
    std::vector<fs::path> out;
    if (to_file) {
        out.push_back(output);
        return out;
    }
    std::error_code ec;
    const fs::path source_folder = r.kind() == "image" ? (r.root().empty() ? fs::path(".") : r.root()) : input;
    if (fs::exists(output) && fs::equivalent(output, source_folder, ec))
        throw hg::value_error("--output " + output.string() + " is the input folder: the converted pictures would replace the originals");
    std::map<std::string, std::string> seen;
    for (std::int64_t i = 0; i < r.count(); ++i) {
        fs::path rel(r.file(i));
        rel.replace_extension(".png");
        const auto [it, fresh] = seen.emplace(rel.generic_string(), r.file(i));
        if (!fresh) {
            std::string msg = "the pictures '" + it->second;
            msg += "' and '" + r.file(i) + "' would both be written to " + (output / rel).string();
            msg += "; rename one of them";
            throw hg::value_error(msg);
        }
        out.push_back(output / rel);
    }
    return out;
}

}  // namespace convert_detail
#endif

/// Converts the video or pictures; returns the number of frames written.
inline std::int64_t convert_command(const convert_command_options& o, const std::atomic<bool>* stop, const print_fn& print) {
#if HG_WITH_MEDIA
    using convert_detail::frame_item;
    namespace fs = std::filesystem;
    if (o.direction != "a2b" && o.direction != "b2a")
        throw hg::value_error("--direction must be a2b or b2a, got '" + o.direction + "'");
    if (o.batch < 1) throw hg::value_error("--batch must be at least 1");
    if (!(o.fps > 0 && o.fps <= 1000)) throw hg::value_error("--fps must be above 0 and at most 1000");
    const int side = o.direction == "a2b" ? 1 : 0;  // the decoder of the other identity
    hg::swap::convert_options co;
    co.mask = hg::swap::parse_paste_mask(o.mask);
    co.erode = o.erode;
    co.blur = o.blur;
    co.color = hg::face::parse_color_mode(o.color);
    co.seamless = o.seamless;
    co.sharpen = o.sharpen;
    co.validate();

    const auto alignments = hg::face::read_alignments(o.alignments);
    // The source: a folder of pictures, one picture, or a video.
    std::error_code ec;
    const bool from_pictures = fs::is_directory(o.input, ec) || hg::media::is_image_path(o.input);
    const bool single_picture_file = from_pictures && !fs::is_directory(o.input, ec) && hg::media::is_image_path(o.output);
    const bool to_folder = !single_picture_file && o.output.extension().empty();
    std::optional<hg::media::video_reader> reader;
    std::optional<hg::media::picture_reader> pictures;
    std::vector<fs::path> picture_out;
    hg::media::video_info info;
    std::int64_t total = 0;
    if (from_pictures) {
        pictures.emplace(o.input, std::vector<fs::path>{o.output, o.alignments.parent_path()});
        if (hg::media::is_image_path(o.output) && !single_picture_file)
            throw hg::value_error("--output " + o.output.string() + ": a folder of pictures is converted into a folder or a video");
        pictures->check_alignments(alignments, o.alignments, o.input);
        picture_out = convert_detail::picture_outputs(*pictures, o.input, o.output, single_picture_file);
        total = pictures->count();
        // Every listed picture's size from its header, before anything is written.
        for (const auto& f : alignments.frames) {
            const fs::path& p = pictures->paths().at(static_cast<std::size_t>(f.index));
            hg::data::image_info hdr;
            try {
                hdr = hg::data::read_image_info(p);
            } catch (const hg::error&) {
                continue;  // unreadable: skipped with a warning when its turn comes
            }
            hg::media::picture_reader::check_size(f, p, hdr.width, hdr.height, o.alignments);
        }
    } else {
        reader.emplace(o.input);
        info = reader->info();
        convert_detail::check_source(alignments, o.alignments, info, o.input);
        total = info.frame_count;
    }
    std::map<std::int64_t, const hg::face::frame_record*> by_index;
    for (const auto& f : alignments.frames)
        if (!f.faces.empty()) by_index[f.index] = &f;
    const std::int64_t align_size = alignments.settings.at("size").as_int();

    // A video from pictures takes the first picture's size; every other must have it too.
    std::optional<hg::media::video_writer> writer;
    hg::media::video_write_options wo;
    wo.codec = o.codec;
    wo.crf = o.crf;
    wo.preset = o.preset;
    if (to_folder) {
        fs::create_directories(o.output);
    } else if (!from_pictures) {
        if (info.frame_rate.valid()) wo.frame_rate = info.frame_rate;
        if (info.time_base.valid()) wo.time_base = info.time_base;
        if (info.audio_streams > 0) wo.copy_audio_from = o.input;
        writer.emplace(o.output, info.width, info.height, wo);
    } else if (!single_picture_file) {
        wo.fps = o.fps;
    }
    const bool picture_video = from_pictures && !to_folder && !single_picture_file;

    std::int64_t written = 0;
    std::vector<std::string> warnings;
    with_trained_model(o.model, o.device, o.threads, print, [&](auto& m) {
        using M = std::decay_t<decltype(m)>;
        const hg::swap::frame_converter converter(co, align_size, M::input_size(), M::output_size(), M::has_mask(),
                                                  [&](const hg::tensor& faces) { return m.decode_host(faces, side); });
        std::string head = "converting " + o.input.string() + " (";
        if (from_pictures)
            head += std::to_string(total) + (total == 1 ? " picture, " : " pictures, ");
        else
            head += std::to_string(info.width) + "x" + std::to_string(info.height) + ", " + std::to_string(total) + " frames, ";
        head += std::to_string(by_index.size()) + " with faces) with '" + M::architecture() + "' (" + o.direction + ") into " +
                o.output.string();
        print(head);

        // Reading and writing run beside the conversion, each behind a bounded queue.
        bounded_queue<frame_item> decoded(2 * static_cast<std::size_t>(o.batch)), converted(2 * static_cast<std::size_t>(o.batch));
        std::exception_ptr read_error, write_error;
        std::thread read_thread([&] {
            try {
                if (pictures) {
                    hg::media::picture_frame f;
                    while (pictures->next(f)) {
                        if (stop && stop->load()) break;
                        if (!decoded.push(frame_item{f.index, hg::media::no_pts, 0, std::move(f.rgb), f.file, f.path, f.error})) break;
                    }
                } else {
                    hg::media::video_frame f;
                    while (reader->next(f)) {
                        if (stop && stop->load()) break;
                        if (!decoded.push(frame_item{f.index, f.pts, f.duration, f.to_tensor(), {}, {}, {}})) break;
                    }
                }
            } catch (...) {
                read_error = std::current_exception();
            }
            decoded.close();
        });
        std::thread write_thread([&] {
            try {
                while (auto item = converted.pop()) {
                    if (from_pictures && !picture_video) {
                        const fs::path& target = picture_out.at(static_cast<std::size_t>(item->index));
                        if (target.has_parent_path()) fs::create_directories(target.parent_path());
                        hg::data::save_png(target, item->rgb);
                    } else if (to_folder) {
                        char name[32];
                        std::snprintf(name, sizeof name, "frame_%06lld.png", static_cast<long long>(item->index));
                        hg::data::save_png(o.output / name, item->rgb);
                    } else if (picture_video) {
                        const std::int64_t h = item->rgb.shape()[0], w = item->rgb.shape()[1];
                        if (!writer) writer.emplace(o.output, w, h, wo);
                        if (w != writer->width() || h != writer->height()) {
                            std::string msg = "the picture " + item->path.string();
                            msg += " is " + std::to_string(w) + "x" + std::to_string(h) + ", the video ";
                            msg += o.output.string() + " " + std::to_string(writer->width()) + "x" + std::to_string(writer->height());
                            msg += " (the first picture's size): a video needs pictures of one size";
                            throw hg::value_error(msg);
                        }
                        writer->write(item->rgb);
                    } else if (item->pts != hg::media::no_pts) {
                        writer->write(item->rgb, item->pts, item->duration);
                    } else {
                        writer->write(item->rgb);
                    }
                    ++written;
                }
            } catch (...) {
                write_error = std::current_exception();
                decoded.close();
            }
        });
        const auto start = std::chrono::steady_clock::now();
        auto last = start - std::chrono::seconds(10);
        std::int64_t done = 0;
        try {
            bool more = true;
            while (more && !write_error) {
                std::vector<frame_item> batch;
                while (static_cast<std::int64_t>(batch.size()) < o.batch) {
                    auto item = decoded.pop();
                    if (!item) {
                        more = false;
                        break;
                    }
                    ++done;
                    if (!item->error.empty()) {  // an unreadable picture (extraction skipped it too)
                        print("warning: " + item->file + ": skipped, " + item->error);
                        continue;
                    }
                    batch.push_back(std::move(*item));
                }
                if (batch.empty()) continue;
                std::vector<hg::tensor> frames;
                std::vector<std::vector<hg::face::face_record>> faces;
                for (auto& b : batch) {
                    frames.push_back(b.rgb);
                    const auto it = by_index.find(b.index);
                    faces.push_back(it == by_index.end() ? std::vector<hg::face::face_record>{} : it->second->faces);
                }
                auto out = converter.convert(frames, faces);
                for (std::size_t i = 0; i < batch.size(); ++i) {
                    batch[i].rgb = std::move(out[i]);
                    if (!converted.push(std::move(batch[i]))) break;
                }
                const auto now = std::chrono::steady_clock::now();
                if (now - last >= std::chrono::seconds(1)) {
                    last = now;
                    const double secs = std::chrono::duration<double>(now - start).count(), rate = secs > 0 ? double(done) / secs : 0;
                    char buf[160];
                    std::snprintf(buf, sizeof buf, "frames %lld/%lld  %.1f frames/s", static_cast<long long>(done),
                                  static_cast<long long>(total), rate);
                    std::string line = buf;
                    if (rate > 0 && total > done) line += "  ETA " + hg::train::format_duration(double(total - done) / rate);
                    print(line);
                }
            }
        } catch (...) {
            decoded.close();
            converted.close();
            read_thread.join();
            write_thread.join();
            throw;
        }
        converted.close();
        decoded.close();
        read_thread.join();
        write_thread.join();
        if (read_error) std::rethrow_exception(read_error);
        if (write_error) std::rethrow_exception(write_error);
    });
    if (stop && stop->load()) {
        // An interrupted conversion leaves no half video: the writer's temporary file is removed.
        writer.reset();
        throw hg::io_error("convert was stopped; nothing was written to " + o.output.string());
    }
    if (writer) writer->finish();
    if (picture_video && !writer) throw hg::io_error("no picture of " + o.input.string() + " could be read; nothing was written");
    if (reader && reader->truncated()) print("warning: " + reader->truncation_message());
    return written;
#else
    (void)o;
    (void)stop;
    (void)print;
    throw hg::io_error(
        "convert needs the media component, which this build lacks: dlib and FFmpeg's libraries were not found at "
        "configure time (run scripts/setup.sh, then configure again)");
#endif
}

}  // namespace faceswap
