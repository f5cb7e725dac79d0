// hourglass-swap convert: a video (or a folder of pictures) and its alignments file in, the same
// video out with every listed face swapped (hg::swap::frame_converter), at the source's size, frame
// rate and time stamps, with the source's audio streams copied as they are; or a folder of frames.
// Frames are read on one thread, converted on the calling thread (the model, in batches of frames)
// and encoded on a third, with bounded queues between them. Needs the media component.
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

}  // namespace convert_detail
#endif

/// Converts the video; returns the number of frames written.
inline std::int64_t convert_command(const convert_command_options& o, const std::atomic<bool>* stop, const print_fn& print) {
#if HG_WITH_MEDIA
    using convert_detail::frame_item;
    if (o.direction != "a2b" && o.direction != "b2a")
        throw hg::value_error("--direction must be a2b or b2a, got '" + o.direction + "'");
    if (o.batch < 1) throw hg::value_error("--batch must be at least 1");
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
    hg::media::video_reader reader(o.input);
    const auto& info = reader.info();
    convert_detail::check_source(alignments, o.alignments, info, o.input);
    std::map<std::int64_t, const hg::face::frame_record*> by_index;
    for (const auto& f : alignments.frames)
        if (!f.faces.empty()) by_index[f.index] = &f;
    const std::int64_t align_size = alignments.settings.at("size").as_int();

    const bool to_folder = o.output.extension().empty();
    std::optional<hg::media::video_writer> writer;
    if (to_folder) {
        std::filesystem::create_directories(o.output);
    } else {
        hg::media::video_write_options wo;
        wo.codec = o.codec;
        wo.crf = o.crf;
        wo.preset = o.preset;
        if (info.frame_rate.valid()) wo.frame_rate = info.frame_rate;
        if (info.time_base.valid()) wo.time_base = info.time_base;
        if (info.audio_streams > 0) wo.copy_audio_from = o.input;
        writer.emplace(o.output, info.width, info.height, wo);
    }

    std::int64_t written = 0;
    with_trained_model(o.model, o.device, o.threads, print, [&](auto& m) {
        using M = std::decay_t<decltype(m)>;
        const hg::swap::frame_converter converter(co, align_size, M::input_size(), M::output_size(), M::has_mask(),
                                                  [&](const hg::tensor& faces) { return m.decode_host(faces, side); });
        print("converting " + o.input.string() + " (" + std::to_string(info.width) + "x" + std::to_string(info.height) + ", " +
              std::to_string(info.frame_count) + " frames, " + std::to_string(by_index.size()) + " with faces) with '" +
              M::architecture() + "' (" + o.direction + ") into " + o.output.string());

        // Reading and encoding run beside the conversion, each behind a bounded queue.
        bounded_queue<frame_item> decoded(2 * static_cast<std::size_t>(o.batch)), converted(2 * static_cast<std::size_t>(o.batch));
        std::exception_ptr read_error, write_error;
        std::thread read_thread([&] {
            try {
                hg::media::video_frame f;
                while (reader.next(f)) {
                    if (stop && stop->load()) break;
                    if (!decoded.push(frame_item{f.index, f.pts, f.duration, f.to_tensor()})) break;
                }
            } catch (...) {
                read_error = std::current_exception();
            }
            decoded.close();
        });
        std::thread write_thread([&] {
            try {
                while (auto item = converted.pop()) {
                    if (to_folder) {
                        char name[32];
                        std::snprintf(name, sizeof name, "frame_%06lld.png", static_cast<long long>(item->index));
                        hg::data::save_png(o.output / name, item->rgb);
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
                    batch.push_back(std::move(*item));
                }
                if (batch.empty()) break;
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
                done += static_cast<std::int64_t>(batch.size());
                const auto now = std::chrono::steady_clock::now();
                if (now - last >= std::chrono::seconds(1)) {
                    last = now;
                    const double secs = std::chrono::duration<double>(now - start).count(), rate = secs > 0 ? double(done) / secs : 0;
                    char buf[160];
                    std::snprintf(buf, sizeof buf, "frames %lld/%lld  %.1f frames/s", static_cast<long long>(done),
                                  static_cast<long long>(info.frame_count), rate);
                    std::string line = buf;
                    if (rate > 0 && info.frame_count > done)
                        line += "  ETA " + hg::train::format_duration(double(info.frame_count - done) / rate);
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
    if (reader.truncated()) print("warning: " + reader.truncation_message());
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
