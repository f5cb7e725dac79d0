// Checkpoint files (.hgc): a JSON header, named float32 tensors and the optimizer's state in one
// file, each part guarded by a CRC-32 so that a damaged file is refused on load, never trained on.
// docs/checkpoints.md describes the format and its guarantees at length.
//
// Layout, all integers little-endian, in this order:
//   8 bytes   magic "HGCKPT\0\1"
//   u32       format version (1)
//   u64       header length H
//   H bytes   header: compact JSON text of one object (architecture, options, iteration, random
//             state... whatever the caller puts in; the format adds nothing to it)
//   u64       tensor count T, then T times:
//     u32       name length L (1 to 65535)
//     L bytes   name (unique within the file)
//     u32       rank R (0 to 4)
//     R x i64   extents (>= 0)
//     u32       element type (1 = float32, the only one so far)
//     u64       data length D (= 4 x the product of the extents)
//     D bytes   the elements, IEEE 754 float32, little-endian, row-major
//     u32       CRC-32 of those D bytes
//   u64       optimizer-state length S
//   S bytes   optimizer state (opaque here: what optim::optimizer::save() wrote)
//   u32       CRC-32 of those S bytes
//   u32       CRC-32 of every byte before it (the whole file but these 4 bytes)
//
// Contract:
// - encode_checkpoint refuses, with nothing produced: a header that is not an object (value_error),
//   a NaN or infinite weight (value_error naming the tensor and the element: a model is never saved
//   with non-finite weights), an empty, overlong or repeated name (value_error), an undefined
//   tensor (value_error) and a tensor that is not on the CPU (device_error: download it first).
// - decode_checkpoint throws hg::format_error naming `what` (the file) and exactly what is wrong:
//   an empty or foreign file ("not an hourglass checkpoint"), a newer format version, a truncated
//   file (where it ends and what was being read), a length that does not fit in what is left of
//   the file (checked BEFORE anything is allocated from it), an unsupported rank or element type,
//   a CRC mismatch naming the tensor (or the optimizer state, or the whole file), bytes after the
//   end, a header that is not a JSON object. The per-part CRCs are checked as the parts are read,
//   the whole-file CRC (which also covers the header and every length) after the last part, and
//   the header is parsed only once every checksum matched. Names from the file are quoted escaped
//   in messages (hg::quoted): a name holding a NUL or control bytes cannot cut or garble them.
// - save_checkpoint_file writes atomically through data::write_file_atomic (temporary file in the
//   same folder, fsync, rename, fsync of the folder): a failure (full disk, no permission, missing
//   folder) is an io_error and leaves any previous file unchanged. load_checkpoint_file opens only
//   a regular file (a named pipe or a device is an io_error at once, never waited on) and reads it
//   part by part as its lengths declare them, each checked against the file's size first: a
//   foreign, damaged or sparse file of any size costs what the walk reaches, not its size in
//   memory, and running out of memory for what a file declares is an io_error, not std::bad_alloc.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <filesystem>
#include <new>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/core/quote.hpp"
#include "hourglass/core/shape.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/data/image_io.hpp"
#include "hourglass/io/crc32.hpp"
#include "hourglass/io/json.hpp"
#include "hourglass/io/regular_file.hpp"

namespace hg::io {

/// What one checkpoint file holds.
struct checkpoint {
    json header = json::object();
    std::vector<std::pair<std::string, tensor>> tensors;
    std::string optimizer_state;

    /// The tensor called `name`, or nullptr.
    const tensor* find(const std::string& name) const {
        for (const auto& [n, t] : tensors)
            if (n == name) return &t;
        return nullptr;
    }
    /// The tensor called `name`; a format_error naming it when the checkpoint has none.
    const tensor& at(const std::string& name) const {
        if (const tensor* t = find(name)) return *t;
        throw format_error("checkpoint: no tensor named '" + name + "'");
    }
};

namespace checkpoint_format {
inline constexpr char magic[8] = {'H', 'G', 'C', 'K', 'P', 'T', '\0', '\1'};
inline constexpr std::uint32_t version = 1;
inline constexpr std::uint32_t float32 = 1;
inline constexpr std::size_t max_name_bytes = 65535;
inline constexpr int max_rank = shape::max_rank;
}  // namespace checkpoint_format

namespace checkpoint_detail {

inline std::string hex32(std::uint32_t v) {
    static const char digits[] = "0123456789abcdef";
    std::string s = "0x";
    for (int k = 28; k >= 0; k -= 4) s += digits[(v >> k) & 15u];
    return s;
}

/// Writes the little-endian format into a buffer sized in advance.
class writer {
public:
    explicit writer(unsigned char* p) : p_(p) {}
    void bytes(const void* src, std::size_t n) {
        if (n) std::memcpy(p_, src, n);
        p_ += n;
    }
    template <class U>
    void le(U v) {
        for (std::size_t k = 0; k < sizeof(U); ++k) *p_++ = static_cast<unsigned char>(std::uint64_t(v) >> (8 * k));
    }
    void floats(const float* v, std::int64_t n) {
        if constexpr (std::endian::native == std::endian::little) {
            bytes(v, static_cast<std::size_t>(n) * 4);
        } else {
            for (std::int64_t i = 0; i < n; ++i) le(std::bit_cast<std::uint32_t>(v[i]));
        }
    }
    unsigned char* pos() const { return p_; }

private:
    unsigned char* p_;
};

/// Where the reader takes its bytes from: a buffer in memory, or a regular file read piece by
/// piece as the format asks for it. From a file nothing is read or allocated beyond what the
/// lengths already checked against the file's size declare, so a huge or sparse file costs only
/// the parts the walk reaches (a foreign 64 GiB file: 8 bytes).
class byte_source {
public:
    explicit byte_source(std::string_view bytes) : mem_(bytes), size_(bytes.size()) {}
    explicit byte_source(const regular_file& f) : file_(&f), size_(f.size()) {}

    std::uint64_t size() const { return size_; }
    bool in_memory() const { return file_ == nullptr; }

    /// n bytes from `at`; the view stays valid until drop() or the source's end. Fewer bytes than
    /// asked (a file that shrank) is reported to `shrank(bytes_got)`.
    template <class Fail, class Shrank>
    std::string_view take(std::uint64_t at, std::size_t n, Fail&& fail, Shrank&& shrank) {
        if (!file_) return mem_.substr(static_cast<std::size_t>(at), n);
        std::string& chunk = chunks_.emplace_back(n, '\0');
        const std::size_t got = file_->read_at(chunk.data(), n, at, fail);
        if (got != n) shrank(at + got);
        return chunk;
    }
    /// Frees the bytes of the last take() (a tensor's data, once copied into its tensor).
    void drop_last() {
        if (!chunks_.empty()) chunks_.pop_back();
    }
    /// The CRC-32 of the first n bytes and the u32 stored after them, or false when they cannot be
    /// read; from a file, streamed through a small buffer.
    bool prefix_crc(std::uint64_t n, std::uint32_t& crc, std::uint32_t& stored) const {
        unsigned char tail[4];
        if (!file_) {
            crc = crc32(mem_.substr(0, static_cast<std::size_t>(n)));
            std::memcpy(tail, mem_.data() + n, 4);
        } else {
            std::vector<char> buffer(std::size_t(1) << 20);
            crc = 0;
            auto ignore = [](const std::string&) {};
            for (std::uint64_t at = 0; at < n;) {
                const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), n - at));
                try {
                    if (file_->read_at(buffer.data(), want, at, ignore) != want) return false;
                } catch (const error&) {
                    return false;
                }
                crc = crc32(buffer.data(), want, crc);
                at += want;
            }
            try {
                if (file_->read_at(tail, 4, n, ignore) != 4) return false;
            } catch (const error&) {
                return false;
            }
        }
        stored = 0;
        for (std::size_t k = 0; k < 4; ++k) stored |= std::uint32_t(tail[k]) << (8 * k);
        return true;
    }

private:
    std::string_view mem_;
    const regular_file* file_ = nullptr;
    std::uint64_t size_ = 0;
    std::deque<std::string> chunks_;  // stable addresses for the views handed out
};

/// Reads the format with every length checked against what is left before it is used, and keeps
/// the CRC-32 of every byte read so far (the whole-file checksum needs no second pass).
class reader {
public:
    reader(byte_source& source, const std::string& what) : src_(source), what_(what) {}

    /// A structural failure; says too whether the final CRC-32 matches, which tells a damaged file
    /// (a flipped length, an odd element type) from one that another writer made that way.
    [[noreturn]] void fail(const std::string& reason) const { fail_plain(reason + damage_note()); }
    [[noreturn]] void fail_plain(const std::string& reason) const {
        throw format_error("checkpoint '" + what_ + "': " + reason);
    }
    /// Files larger than this are not read through a second time just to word an error message.
    static constexpr std::uint64_t damage_note_limit = std::uint64_t(16) << 30;
    std::string damage_note() const {
        if (src_.size() < 4 || src_.size() > damage_note_limit) return "";
        std::uint32_t crc = 0, stored = 0;
        if (!src_.prefix_crc(src_.size() - 4, crc, stored)) return "";
        return crc == stored
                   ? std::string()
                   : " (the file's final CRC-32 does not match its contents either: the file is damaged or cut short)";
    }
    std::uint64_t size() const { return src_.size(); }
    std::size_t pos() const { return static_cast<std::size_t>(pos_); }
    std::uint64_t left() const { return src_.size() - pos_; }
    /// The CRC-32 of every byte read so far.
    std::uint32_t running_crc() const { return crc_; }
    /// n more bytes must be there for `reading`; otherwise the file is truncated (say where).
    void need(std::uint64_t n, const std::string& reading) const {
        if (n > left()) truncated(src_.size(), n, reading);
    }
    template <class U>
    U le(const std::string& reading) {
        const std::string_view b = bytes(sizeof(U), reading);
        std::uint64_t v = 0;
        for (std::size_t k = 0; k < sizeof(U); ++k) v |= std::uint64_t(static_cast<unsigned char>(b[k])) << (8 * k);
        if (!src_.in_memory()) src_.drop_last();
        return static_cast<U>(v);
    }
    std::string_view bytes(std::uint64_t n, const std::string& reading) {
        need(n, reading);
        auto io_fail = [&](const std::string& reason) {
            throw io_error("checkpoint: cannot load '" + what_ + "': " + reason);
        };
        auto shrank = [&](std::uint64_t end) { truncated(end, n, reading + " (the file shrank while being read)"); };
        const std::string_view v = src_.take(pos_, static_cast<std::size_t>(n), io_fail, shrank);
        crc_ = crc32(v, crc_);
        pos_ += n;
        return v;
    }
    /// The next n bytes (at most what is left), without moving on or counting them in the CRC.
    std::string_view peek(std::size_t n) {
        auto io_fail = [&](const std::string& reason) {
            throw io_error("checkpoint: cannot load '" + what_ + "': " + reason);
        };
        const std::uint64_t at = pos_;
        auto shrank = [&](std::uint64_t end) { truncated(end, n, "the start of the file"); };
        const std::string_view v = src_.take(at, static_cast<std::size_t>(std::min<std::uint64_t>(n, left())), io_fail, shrank);
        return v;
    }
    /// Frees the bytes of the last bytes() call (from a file; in memory there is nothing to free).
    void release_last() { src_.drop_last(); }
    /// A length field: more than is left can only come from a damaged or cut file.
    std::uint64_t length(const std::string& of) {
        const std::uint64_t at = pos_;
        const auto n = le<std::uint64_t>("the length of " + of);
        if (n > left())
            fail("the length of " + of + " at byte " + std::to_string(at) + " is " + std::to_string(n) +
                 " bytes, more than the " + std::to_string(left()) +
                 " bytes left in the file: the file is truncated or corrupt");
        return n;
    }
    /// Reads a stored CRC-32 and compares it with `computed`.
    void check_crc(std::uint32_t computed, const std::string& of) {
        const std::uint64_t at = pos_;
        const auto stored = le<std::uint32_t>("the CRC-32 of " + of);
        if (stored != computed)
            fail_plain("CRC mismatch in " + of + " (stored " + hex32(stored) + " at byte " + std::to_string(at) +
                       ", computed " + hex32(computed) + "): the file is corrupt");
    }
    void check_crc(std::string_view data, const std::string& of) { check_crc(crc32(data), of); }

private:
    [[noreturn]] void truncated(std::uint64_t end, std::uint64_t n, const std::string& reading) const {
        fail("truncated: the file ends at byte " + std::to_string(end) + " while reading " + reading + " at byte " +
             std::to_string(pos_) + " (" + std::to_string(n) + " bytes needed, " +
             std::to_string(end > pos_ ? end - pos_ : 0) + " left)");
    }

    byte_source& src_;
    const std::string& what_;
    std::uint64_t pos_ = 0;
    std::uint32_t crc_ = 0;
};

inline shape make_shape(const std::int64_t* d, std::uint32_t rank) {
    switch (rank) {
        case 0: return shape{};
        case 1: return shape{d[0]};
        case 2: return shape{d[0], d[1]};
        case 3: return shape{d[0], d[1], d[2]};
        default: return shape{d[0], d[1], d[2], d[3]};
    }
}

/// Checks everything encode needs and returns the header text and the total size.
inline std::size_t validate(const checkpoint& c, std::string& header_text) {
    if (!c.header.is_object())
        throw value_error(std::string("checkpoint: the header must be a JSON object, not a ") +
                          json::kind_name(c.header.type()));
    try {
        header_text = c.header.dump();
    } catch (const value_error& e) {
        throw value_error(std::string("checkpoint: the header cannot be written: ") + e.what());
    }
    std::size_t total = 8 + 4 + 8 + header_text.size() + 8;
    std::set<std::string> names;
    for (const auto& [name, t] : c.tensors) {
        if (name.empty() || name.size() > checkpoint_format::max_name_bytes)
            throw value_error("checkpoint: a tensor name must have 1 to 65535 bytes, '" + name.substr(0, 64) +
                              "' has " + std::to_string(name.size()));
        if (!names.insert(name).second) throw value_error("checkpoint: two tensors are named '" + name + "'");
        if (!t.defined()) throw value_error("checkpoint: tensor '" + name + "' is undefined");
        if (!t.on_cpu())
            throw device_error("checkpoint: tensor '" + name + "' is a " + to_string(t.device()) +
                               " tensor; download it to the CPU before saving");
        const float* v = t.data();
        for (std::int64_t i = 0; i < t.numel(); ++i)
            if (!std::isfinite(v[i]))
                throw value_error("checkpoint: tensor '" + name + "' holds the non-finite value " +
                                  std::to_string(v[i]) + " at element " + std::to_string(i) +
                                  "; a model with non-finite weights is not saved");
        total += 4 + name.size() + 4 + 8 * std::size_t(t.shape().rank()) + 4 + 8 + t.bytes() + 4;
    }
    return total + 8 + c.optimizer_state.size() + 4 + 4;
}

/// Encodes into `out` (std::string or std::vector<unsigned char>), resized to the exact size.
template <class Bytes>
void encode_into(const checkpoint& c, Bytes& out) {
    std::string header_text;
    out.resize(validate(c, header_text));
    unsigned char* const begin = reinterpret_cast<unsigned char*>(out.data());
    writer w(begin);
    w.bytes(checkpoint_format::magic, 8);
    w.le(checkpoint_format::version);
    w.le(std::uint64_t(header_text.size()));
    w.bytes(header_text.data(), header_text.size());
    w.le(std::uint64_t(c.tensors.size()));
    for (const auto& [name, t] : c.tensors) {
        w.le(std::uint32_t(name.size()));
        w.bytes(name.data(), name.size());
        w.le(std::uint32_t(t.shape().rank()));
        for (int i = 0; i < t.shape().rank(); ++i) w.le(std::int64_t(t.shape()[i]));
        w.le(checkpoint_format::float32);
        w.le(std::uint64_t(t.bytes()));
        unsigned char* data = w.pos();
        w.floats(t.data(), t.numel());
        w.le(crc32(data, t.bytes()));
    }
    w.le(std::uint64_t(c.optimizer_state.size()));
    w.bytes(c.optimizer_state.data(), c.optimizer_state.size());
    w.le(crc32(c.optimizer_state));
    w.le(crc32(begin, static_cast<std::size_t>(w.pos() - begin)));
}

/// data::write_file_atomic with the messages of this module.
inline void write_atomic(const std::filesystem::path& path, const std::vector<unsigned char>& bytes) {
    try {
        data::write_file_atomic(path, bytes);
    } catch (const io_error& e) {
        std::string_view msg = e.what();
        if (msg.substr(0, 10) == "image_io: ") msg.remove_prefix(10);  // the writer is shared with images
        throw io_error("checkpoint: " + std::string(msg));
    }
}

}  // namespace checkpoint_detail

/// The bytes of a checkpoint file (see the layout above).
inline std::string encode_checkpoint(const checkpoint& c) {
    std::string out;
    checkpoint_detail::encode_into(c, out);
    return out;
}

namespace checkpoint_detail {

/// The decoder proper, on either kind of byte source.
inline checkpoint decode_from(reader& r) {
    namespace fmt = checkpoint_format;
    if (r.size() == 0) r.fail_plain("the file is empty");
    // The magic is compared on what there is of it first: a short foreign file is "not a
    // checkpoint", a short start of a checkpoint is "truncated".
    const std::size_t head = static_cast<std::size_t>(std::min<std::uint64_t>(r.size(), 8));
    if (std::memcmp(r.peek(head).data(), fmt::magic, head) != 0)
        r.fail_plain("not an hourglass checkpoint (the file does not start with \"HGCKPT\")");
    r.bytes(8, "the magic number");
    const auto version = r.le<std::uint32_t>("the format version");
    if (version > fmt::version)
        r.fail_plain("written by a newer version " + std::to_string(version) +
                     " of the checkpoint format; this build reads up to " + std::to_string(fmt::version));
    if (version == 0) r.fail_plain("format version 0 does not exist: the file is corrupt");

    const std::string_view header_text = r.bytes(r.length("the header"), "the header");
    const auto count = r.le<std::uint64_t>("the tensor count");
    // Each tensor takes at least 25 bytes (a 1-byte name, rank 0, no data) and 16 bytes follow them.
    constexpr std::uint64_t min_tensor = 4 + 1 + 4 + 4 + 8 + 4, trailer = 8 + 4 + 4;
    if (count > (r.left() < trailer ? 0 : (r.left() - trailer) / min_tensor))
        r.fail("the tensor count " + std::to_string(count) + " is more than the " + std::to_string(r.left()) +
               " bytes left in the file can hold: the file is truncated or corrupt");

    checkpoint c;
    c.tensors.reserve(static_cast<std::size_t>(count));
    std::set<std::string_view> names;
    for (std::uint64_t i = 0; i < count; ++i) {
        const std::string index = "tensor #" + std::to_string(i);
        const auto name_len = r.le<std::uint32_t>("the name length of " + index);
        if (name_len == 0 || name_len > fmt::max_name_bytes)
            r.fail("the name length of " + index + " is " + std::to_string(name_len) +
                   " (1 to 65535 allowed): the file is corrupt");
        const std::string_view name = r.bytes(name_len, "the name of " + index);
        const std::string who = "tensor " + hg::quoted(name);
        if (!names.insert(name).second) r.fail("two tensors are named " + hg::quoted(name) + ": the file is corrupt");
        const auto rank = r.le<std::uint32_t>("the rank of " + who);
        if (rank > std::uint32_t(fmt::max_rank))
            r.fail(who + " has rank " + std::to_string(rank) + ", more than the supported 4: the file is corrupt");
        std::int64_t dims[fmt::max_rank] = {};
        std::int64_t numel = 1;
        for (std::uint32_t k = 0; k < rank; ++k) {
            dims[k] = r.le<std::int64_t>("the extents of " + who);
            if (dims[k] < 0)
                r.fail(who + " has the negative extent " + std::to_string(dims[k]) + ": the file is corrupt");
            // The product in the order shape::numel() forms it, so no partial product overflows.
            if (dims[k] != 0 && numel > std::numeric_limits<std::int64_t>::max() / 4 / dims[k])
                r.fail(who + " has extents whose product overflows: the file is corrupt");
            numel *= dims[k];
        }
        const auto type = r.le<std::uint32_t>("the element type of " + who);
        if (type != fmt::float32)
            r.fail(who + " has element type " + std::to_string(type) + "; this build reads only 1 (float32)");
        const std::size_t at = r.pos();
        const auto data_len = r.le<std::uint64_t>("the data length of " + who);
        if (data_len != std::uint64_t(numel) * 4)
            r.fail(who + " declares " + std::to_string(data_len) + " data bytes at byte " + std::to_string(at) +
                   ", but its extents need " + std::to_string(std::uint64_t(numel) * 4) + ": the file is corrupt");
        if (data_len > r.left())
            r.fail(who + " declares " + std::to_string(data_len) + " data bytes at byte " + std::to_string(at) +
                   ", more than the " + std::to_string(r.left()) +
                   " bytes left in the file: the file is truncated or corrupt");
        const std::string_view data = r.bytes(data_len, "the data of " + who);
        r.check_crc(data, "the data of " + who);
        // Only now, with the length matched against the file and the bytes verified, allocate.
        tensor t = tensor::empty(make_shape(dims, rank));
        if constexpr (std::endian::native == std::endian::little) {
            if (data_len) std::memcpy(t.data(), data.data(), data.size());
        } else {
            for (std::int64_t e = 0; e < numel; ++e) {
                std::uint32_t u = 0;
                for (int k = 0; k < 4; ++k)
                    u |= std::uint32_t(static_cast<unsigned char>(data[std::size_t(4 * e + k)])) << (8 * k);
                t.data()[e] = std::bit_cast<float>(u);
            }
        }
        r.release_last();  // the file's copy of the data, now in the tensor
        c.tensors.emplace_back(std::string(name), std::move(t));
    }
    const std::string_view state = r.bytes(r.length("the optimizer state"), "the optimizer state");
    r.check_crc(state, "the optimizer state");
    r.check_crc(r.running_crc(), "the whole file (header and lengths included)");
    if (r.left() != 0)
        r.fail(std::to_string(r.left()) + " unexpected bytes after the end of the checkpoint at byte " +
               std::to_string(r.pos()));
    c.optimizer_state = std::string(state);
    try {
        c.header = json::parse(header_text);
    } catch (const format_error& e) {
        r.fail(std::string("the header (from byte 20) is not valid JSON: ") + e.what());
    }
    if (!c.header.is_object())
        r.fail(std::string("the header is a JSON ") + json::kind_name(c.header.type()) + ", not an object");
    return c;
}

}  // namespace checkpoint_detail

/// Decodes the bytes of a checkpoint file; `what` (the file name) appears in every message.
inline checkpoint decode_checkpoint(std::string_view bytes, const std::string& what) {
    checkpoint_detail::byte_source source(bytes);
    checkpoint_detail::reader r(source, what);
    return checkpoint_detail::decode_from(r);
}

/// Writes `c` to `path` atomically; value_error/device_error as encode_checkpoint (nothing written),
/// io_error when the file cannot be written (any previous file at `path` stays as it was).
inline void save_checkpoint_file(const std::filesystem::path& path, const checkpoint& c) {
    std::vector<unsigned char> bytes;
    checkpoint_detail::encode_into(c, bytes);
    checkpoint_detail::write_atomic(path, bytes);
}

/// Reads and decodes the checkpoint file at `path`: io_error when it cannot be read (missing, not
/// a regular file, a read error, not enough memory for what it declares), format_error when it is
/// not a valid checkpoint. Only a regular file is opened (a named pipe is refused, never waited on),
/// and it is read part by part as the format's lengths, each checked against the file's size,
/// declare them: what is read is capped by what the file declares, never the whole of a foreign,
/// damaged or sparse file.
inline checkpoint load_checkpoint_file(const std::filesystem::path& path) {
    const std::string name = path.string();
    auto fail = [&](const std::string& reason) { throw io_error("checkpoint: cannot load '" + name + "': " + reason); };
    const regular_file file = regular_file::open(path, fail);
    checkpoint_detail::byte_source source(file);
    checkpoint_detail::reader r(source, name);
    try {
        return checkpoint_detail::decode_from(r);
    } catch (const std::bad_alloc&) {
        fail("not enough memory for what the file declares (" + std::to_string(file.size()) + " bytes in all)");
    }
    return {};  // not reached: fail throws
}

}  // namespace hg::io
