// Image files: load PNG, JPEG, BMP and TGA (8 bits per channel, and 16-bit PNG) into
// hg::data::image (RGB float [0, 1], alpha kept apart as a mask), from a file or from memory; save
// PNG (RGB or RGBA) and JPEG. JPEG is decoded by libjpeg-turbo (TurboJPEG API), everything else by
// stb_image; encoding is stb_image_write's.
//
// Why libjpeg-turbo for JPEG: stb_image 2.27 (Debian 12's) decodes some corrupt JPEGs with
// uninitialised Huffman tables (CVE-2022-29977, fixed upstream in 2.30); libjpeg-turbo is hardened
// by years of continuous fuzzing, two to four times faster with its SIMD code, and packaged by
// Debian, so closing the hole costs no vendored copy of a decoder.
//
// Contract:
// - The header is read first and a picture larger than load_options::max_pixels (default 64
//   megapixels) is rejected BEFORE any pixel is decoded, so a tiny file that declares 100000 x
//   100000 pixels costs nothing (decompression bombs). Everything else a file declares a size for is
//   checked against the data before the decoder sees it: every PNG chunk's length must fit in the
//   data (stb would reserve a declared IDAT length, up to 2 GiB, before noticing that the bytes are
//   not there), a JPEG's marker segments must fit and reach the end-of-image marker, an
//   uncompressed BMP or TGA must hold all the pixel bytes its header announces (stb pads missing
//   ones with zeros instead of failing). A file with a size limit of its own is read only if it is
//   a regular file of at most load_options::max_file_bytes (a named pipe is refused, never waited on).
// - Every failure to load (missing or unreadable file, unknown or unsupported format, corrupt or
//   truncated data, too many pixels) throws hg::io_error whose message names the file (or the name
//   given for a memory buffer) and the reason, the decoder's own text included. A JPEG that
//   libjpeg-turbo decodes only with a warning (corrupt entropy-coded data) is refused too.
// - Channels: grey and RGB PNGs with a tRNS colour key decode with an alpha channel (2 and 4
//   channels), as do palette PNGs with tRNS; read_image_info reports those channel counts.
// - Only PNG, JPEG, BMP and TGA are accepted; the other formats stb knows (GIF, PSD, HDR, PIC, PNM)
//   are refused by their signature.
// - Saving is atomic: the encoded bytes go to a temporary file in the destination's folder, which
//   is flushed (fsync) and then renamed over the destination. A failed write (a full disk, a size
//   limit, a missing folder, no permission) throws hg::io_error saying so, removes the temporary
//   file and leaves any previous file at the destination unchanged. Values are clamped to [0, 1]
//   and rounded to 8 bits; a NaN or an infinity is a value_error.
// - Thread-safe: stb keeps its failure reason per thread, each JPEG decode has its own TurboJPEG
//   handle, and nothing here has global state.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <stb_image.h>
#include <stb_image_write.h>
#include <turbojpeg.h>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/data/image.hpp"
#include "hourglass/io/regular_file.hpp"

namespace hg::data {

enum class image_format { png, jpeg, bmp, tga };

inline const char* to_string(image_format f) {
    switch (f) {
        case image_format::png: return "PNG";
        case image_format::jpeg: return "JPEG";
        case image_format::bmp: return "BMP";
        case image_format::tga: return "TGA";
    }
    return "unknown";
}

struct load_options {
    /// Pictures with more pixels than this are refused from their header, before decoding.
    std::int64_t max_pixels = 64'000'000;
    /// Files larger than this are refused before they are read (load_image only).
    std::int64_t max_file_bytes = std::int64_t(1) << 30;
};

/// What the header of an image says.
struct image_info {
    std::int64_t width = 0;
    std::int64_t height = 0;
    int channels = 0;  ///< stored channels: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA
    int bits = 8;      ///< bits per channel (16 only for 16-bit PNG)
    image_format format = image_format::png;
};

namespace image_io_detail {

[[noreturn]] inline void fail_load(const std::string& name, const std::string& reason) {
    throw io_error("image_io: cannot load '" + name + "': " + reason);
}

inline bool starts_with(const unsigned char* p, std::size_t n, const char* magic, std::size_t m) {
    return n >= m && std::memcmp(p, magic, m) == 0;
}

/// The format from the signature; TGA has none, so anything without a known signature is a TGA
/// candidate (stb then tries TGA only). Signatures of formats stb decodes but we refuse throw.
inline image_format sniff_format(const unsigned char* p, std::size_t n, const std::string& name) {
    if (n == 0) fail_load(name, "the file is empty");
    if (starts_with(p, n, "\x89PNG\r\n\x1a\n", 8)) return image_format::png;
    if (n >= 2 && p[0] == 0xFF && p[1] == 0xD8) return image_format::jpeg;
    if (p[0] == 0xFF) {
        // stb's format test skips fill bytes before the start-of-image marker and would decode
        // such a file with its own JPEG decoder (the one this reader does not trust) when it is
        // taken for a TGA below; libjpeg refuses it as well.
        std::size_t i = 1;
        while (i < n && p[i] == 0xFF) ++i;
        if (i < n && p[i] == 0xD8)
            fail_load(name, "fill bytes before the JPEG start-of-image marker (not a standard JPEG file)");
    }
    if (starts_with(p, n, "BM", 2)) return image_format::bmp;
    if (starts_with(p, n, "GIF8", 4)) fail_load(name, "GIF is not supported (PNG, JPEG, BMP or TGA only)");
    if (starts_with(p, n, "8BPS", 4)) fail_load(name, "PSD is not supported (PNG, JPEG, BMP or TGA only)");
    if (starts_with(p, n, "#?", 2)) fail_load(name, "HDR/Radiance is not supported (PNG, JPEG, BMP or TGA only)");
    if (starts_with(p, n, "\x53\x80\xF6\x34", 4)) fail_load(name, "PIC is not supported (PNG, JPEG, BMP or TGA only)");
    if (n >= 2 && p[0] == 'P' && (p[1] == '5' || p[1] == '6'))
        fail_load(name, "PNM is not supported (PNG, JPEG, BMP or TGA only)");
    return image_format::tga;
}

inline std::string stb_reason() {
    const char* r = stbi_failure_reason();
    return r ? std::string(r) : std::string("unknown decoder error");
}

/// Walks the JPEG marker segments (lengths from the data, entropy-coded scans byte by byte) and
/// reports whether the end-of-image marker is reached before the data ends.
inline bool jpeg_reaches_eoi(const unsigned char* p, std::size_t n) {
    std::size_t i = 2;  // after SOI
    while (true) {
        while (i < n && p[i] != 0xFF) ++i;  // tolerate stray bytes between segments
        while (i < n && p[i] == 0xFF) ++i;  // fill bytes
        if (i >= n) return false;
        const unsigned char marker = p[i++];
        if (marker == 0xD9) return true;                                 // EOI
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no length field
        if (i + 2 > n) return false;
        const std::size_t len = (std::size_t(p[i]) << 8) | p[i + 1];
        if (len < 2 || i + len > n) return false;
        i += len;
        if (marker == 0xDA) {  // SOS: entropy-coded data up to the next marker that is not RSTn
            while (true) {
                while (i < n && p[i] != 0xFF) ++i;
                if (i + 1 >= n) return false;
                const unsigned char next = p[i + 1];
                if (next == 0x00 || (next >= 0xD0 && next <= 0xD7) || next == 0xFF) {
                    i += (next == 0xFF) ? 1 : 2;
                    continue;
                }
                break;  // a real marker at p[i]
            }
        }
    }
}

inline std::uint32_t le16(const unsigned char* p) { return std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8); }
inline std::uint32_t le32(const unsigned char* p) { return le16(p) | (le16(p + 2) << 16); }

/// For uncompressed BMP and TGA: whether the data holds every pixel byte the header announces
/// (stb would silently decode the missing ones as zeros). Compressed variants are not checked.
inline bool raw_pixels_complete(image_format f, const unsigned char* p, std::size_t n, const image_info& info) {
    if (f == image_format::bmp) {
        // The info header's size tells the layout: the 12-byte OS/2 1.x header keeps 16-bit width,
        // height, planes and bit count (bit count at byte 24, never compressed); the others
        // (40-byte BITMAPINFOHEADER and its extensions, 64-byte OS/2 2.x) have the bit count at
        // byte 28 and the compression at byte 30.
        if (n < 18) return false;
        const bool os2_v1 = le32(p + 14) == 12;
        if (n < (os2_v1 ? 26u : 34u)) return false;
        const std::uint32_t offset = le32(p + 10);
        const std::uint32_t bpp = os2_v1 ? le16(p + 24) : le16(p + 28);
        const std::uint32_t compression = os2_v1 ? 0 : le32(p + 30);
        if (compression != 0 && compression != 3) return true;  // RLE: length not known in advance
        const std::uint64_t row = (std::uint64_t(info.width) * bpp + 31) / 32 * 4;
        return std::uint64_t(offset) + row * std::uint64_t(info.height) <= n;
    }
    if (f == image_format::tga) {
        if (n < 18) return false;
        const unsigned type = p[2];
        const std::uint64_t id_len = p[0];
        const std::uint64_t cmap = p[1] ? std::uint64_t(le16(p + 5)) * ((p[7] + 7u) / 8u) : 0;
        const std::uint64_t bytes_pp = (p[16] + 7u) / 8u;
        const std::uint64_t pixels = std::uint64_t(info.width) * std::uint64_t(info.height);
        std::uint64_t pos = 18 + id_len + cmap;
        if (type == 1 || type == 2 || type == 3) return pos + bytes_pp * pixels <= n;
        if (type != 9 && type != 10 && type != 11) return true;
        // RLE: walk the packets (a run stores one pixel, a raw packet `count` pixels).
        for (std::uint64_t done = 0; done < pixels;) {
            if (pos >= n) return false;
            const unsigned header = p[pos++];
            const std::uint64_t count = (header & 0x7Fu) + 1u;
            pos += (header & 0x80u) ? bytes_pp : bytes_pp * count;
            done += count;
        }
        return pos <= n;
    }
    return true;
}

struct stbi_deleter {
    void operator()(void* p) const { stbi_image_free(p); }
};

}  // namespace image_io_detail

namespace image_io_detail {

inline std::uint32_t be16(const unsigned char* p) { return (std::uint32_t(p[0]) << 8) | p[1]; }
inline std::uint32_t be32(const unsigned char* p) { return (be16(p) << 16) | be16(p + 2); }

/// The width and height the header declares, read here (stb refuses to even report sizes whose
/// byte count overflows an int, and reports them as an unknown type). False when not found.
inline bool declared_size(image_format f, const unsigned char* p, std::size_t n, std::int64_t& w, std::int64_t& h) {
    switch (f) {
        case image_format::png:
            if (n < 24 || std::memcmp(p + 12, "IHDR", 4) != 0) return false;
            w = be32(p + 16);
            h = be32(p + 20);
            return true;
        case image_format::bmp: {
            if (n < 26) return false;
            const std::uint32_t header = le32(p + 14);
            if (header == 12) {
                w = le16(p + 18);
                h = le16(p + 20);
            } else {
                w = static_cast<std::int32_t>(le32(p + 18));
                h = static_cast<std::int32_t>(le32(p + 22));
                if (h < 0) h = -h;  // top-down
            }
            return true;
        }
        case image_format::tga:
            if (n < 18) return false;
            w = le16(p + 12);
            h = le16(p + 14);
            return true;
        case image_format::jpeg: {
            std::size_t i = 2;
            while (i + 4 <= n) {
                if (p[i] != 0xFF) return false;
                const unsigned char m = p[i + 1];
                if (m == 0xFF) { ++i; continue; }
                if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { i += 2; continue; }
                const std::size_t len = be16(p + i + 2);
                if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
                    if (i + 9 > n) return false;
                    h = be16(p + i + 5);
                    w = be16(p + i + 7);
                    return true;
                }
                if (m == 0xDA || m == 0xD9 || len < 2) return false;
                i += 2 + len;
            }
            return false;
        }
    }
    return false;
}

}  // namespace image_io_detail

namespace image_io_detail {

/// What walking a PNG's chunks found.
struct png_layout {
    bool has_trns = false;  ///< a tRNS chunk: a colour key (grey, RGB) or palette alpha
    int color_type = 0;     ///< IHDR's colour type: 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA
};

/// Walks the chunks from the signature to IEND and refuses (io_error) a chunk whose declared
/// length does not fit in the data, a chunk type that is not four letters, a first chunk that is
/// not IHDR and data that ends before IEND; bytes after IEND are ignored, as decoders do. Run
/// before stb sees the data: stb 2.27 reserves a chunk's declared length before checking that the
/// bytes exist (a 45-byte file declaring a 2 GiB IDAT made it reserve 2 GiB).
inline png_layout walk_png_chunks(const unsigned char* p, std::size_t n, const std::string& name) {
    png_layout out;
    std::size_t pos = 8;  // after the signature
    for (int index = 0;; ++index) {
        if (pos == n) fail_load(name, "truncated PNG: the data ends after " + std::to_string(n) + " bytes, before the IEND chunk");
        if (n - pos < 8)
            fail_load(name, "truncated PNG: the data ends inside the chunk header at byte " + std::to_string(pos));
        const std::uint64_t length = be32(p + pos);
        const unsigned char* type = p + pos + 4;
        for (int k = 0; k < 4; ++k)
            if (!((type[k] >= 'A' && type[k] <= 'Z') || (type[k] >= 'a' && type[k] <= 'z')))
                fail_load(name, "corrupt PNG: the chunk at byte " + std::to_string(pos) + " has a type that is not four letters");
        const std::string type_name(reinterpret_cast<const char*>(type), 4);
        if (length > 0x7FFFFFFFu)
            fail_load(name, "corrupt PNG: the " + type_name + " chunk at byte " + std::to_string(pos) + " declares " +
                                std::to_string(length) + " bytes, more than PNG's limit of 2^31 - 1");
        if (length + 12 > n - pos)
            fail_load(name, "truncated or corrupt PNG: the " + type_name + " chunk at byte " + std::to_string(pos) +
                                " declares " + std::to_string(length) + " bytes, but only " +
                                std::to_string(n - pos < 12 ? 0 : n - pos - 12) + " are left in the data");
        if (index == 0) {
            if (type_name != "IHDR" || length < 13) fail_load(name, "corrupt PNG: the first chunk is not a 13-byte IHDR");
            out.color_type = p[pos + 8 + 9];
        }
        if (type_name == "tRNS") out.has_trns = true;
        if (type_name == "IEND") return out;
        pos += static_cast<std::size_t>(length) + 12;
    }
}

/// One TurboJPEG decompressor, destroyed with the scope.
struct turbojpeg_handle {
    tjhandle h = tjInitDecompress();
    turbojpeg_handle() = default;
    turbojpeg_handle(const turbojpeg_handle&) = delete;
    turbojpeg_handle& operator=(const turbojpeg_handle&) = delete;
    ~turbojpeg_handle() {
        if (h) tjDestroy(h);
    }
};

inline std::string turbojpeg_reason(tjhandle h) {
    const char* r = tjGetErrorStr2(h);
    return r ? std::string(r) : std::string("unknown decoder error");
}

/// Width, height and colour space from a JPEG header (libjpeg-turbo reads only the markers).
inline void jpeg_header(const unsigned char* p, std::size_t n, const std::string& name, int& w, int& h, int& colorspace) {
    turbojpeg_handle tj;
    if (!tj.h) fail_load(name, "cannot start the JPEG decoder (" + turbojpeg_reason(nullptr) + ")");
    int subsamp = 0;
    if (tjDecompressHeader3(tj.h, p, static_cast<unsigned long>(n), &w, &h, &subsamp, &colorspace) != 0)
        fail_load(name, "not a readable JPEG header (" + turbojpeg_reason(tj.h) + ")");
}

/// Width, height and component count from a JPEG's frame header (SOFn), walking the marker
/// segments that precede it. Reading only up to the frame header keeps `read_image_info` a header
/// read for JPEG as for the other formats: a file cut in its tables or scans still lists, and is
/// refused when it is decoded (libjpeg-turbo's own header read needs everything up to the first scan).
inline void jpeg_frame_header(const unsigned char* p, std::size_t n, const std::string& name, int& w, int& h, int& components) {
    std::size_t i = 2;  // after SOI
    while (true) {
        while (i < n && p[i] != 0xFF) ++i;
        while (i < n && p[i] == 0xFF) ++i;
        if (i >= n) fail_load(name, "truncated JPEG: the data ends before the frame header");
        const unsigned char marker = p[i++];
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no length field
        if (marker == 0xD9 || marker == 0xDA) fail_load(name, "not a readable JPEG header (no frame header before the first scan)");
        if (i + 2 > n) fail_load(name, "truncated JPEG: the data ends before the frame header");
        const std::size_t len = (std::size_t(p[i]) << 8) | p[i + 1];
        if (len < 2 || i + len > n) fail_load(name, "truncated JPEG: the data ends before the frame header");
        const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (sof) {
            if (len < 8) fail_load(name, "not a readable JPEG header (a frame header of " + std::to_string(len) + " bytes)");
            h = int((unsigned(p[i + 3]) << 8) | p[i + 4]);
            w = int((unsigned(p[i + 5]) << 8) | p[i + 6]);
            components = p[i + 7];
            return;
        }
        i += len;
    }
}

/// Decodes a JPEG to interleaved 8-bit grey (1 channel) or RGB (3): a warning (corrupt data that
/// libjpeg would patch over) is an error, and a progressive file with an unreasonable number of
/// scans is refused (TJFLAG_LIMITSCANS) instead of taking minutes. CMYK and YCCK files (Adobe's
/// inverted CMYK, as Photoshop writes them) become RGB as R = C K / 255 (and so on), which is what
/// stb_image and browsers do with them.
inline std::vector<unsigned char> decode_jpeg(const unsigned char* p, std::size_t n, const std::string& name, int w, int h,
                                              int colorspace, int& channels) {
    turbojpeg_handle tj;
    if (!tj.h) fail_load(name, "cannot start the JPEG decoder (" + turbojpeg_reason(nullptr) + ")");
    const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
    const int format = colorspace == TJCS_GRAY ? TJPF_GRAY : cmyk ? TJPF_CMYK : TJPF_RGB;
    const int bytes_pp = tjPixelSize[format];
    std::vector<unsigned char> px(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * std::size_t(bytes_pp));
    if (tjDecompress2(tj.h, p, static_cast<unsigned long>(n), px.data(), w, w * bytes_pp, h, format,
                      TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS) != 0)
        fail_load(name, std::string("corrupt JPEG data (") + turbojpeg_reason(tj.h) + ")");
    channels = format == TJPF_GRAY ? 1 : 3;
    if (cmyk) {
        const std::size_t count = static_cast<std::size_t>(w) * static_cast<std::size_t>(h);
        for (std::size_t i = 0; i < count; ++i) {
            const unsigned k = px[4 * i + 3];
            for (int c = 0; c < 3; ++c) px[3 * i + std::size_t(c)] = static_cast<unsigned char>((px[4 * i + std::size_t(c)] * k + 127u) / 255u);
        }
        px.resize(count * 3);
    }
    return px;
}

}  // namespace image_io_detail

/// Reads only the header of an encoded image in memory; `name` appears in error messages. A
/// picture over opts.max_pixels is refused here (io_error), so nothing larger is ever decoded.
inline image_info read_image_info(const void* data, std::size_t size, const std::string& name = "<memory>",
                                  const load_options& opts = {}) {
    using namespace image_io_detail;
    const auto* p = static_cast<const unsigned char*>(data);
    if (!p && size) fail_load(name, "null data pointer");
    const image_format f = sniff_format(p, size, name);
    if (size > std::size_t(0x7fffffff)) fail_load(name, "the data is larger than 2 GiB");
    std::int64_t dw = 0, dh = 0;  // each below 2^32, so the product fits 64 unsigned bits
    if (declared_size(f, p, size, dw, dh) && dw > 0 && dh > 0 && dw > opts.max_pixels / dh)
        fail_load(name, "the header declares " + std::to_string(dw) + " x " + std::to_string(dh) + " pixels (" +
                            std::to_string(static_cast<std::uint64_t>(dw) * static_cast<std::uint64_t>(dh)) +
                            "), more than the limit of " + std::to_string(opts.max_pixels) +
                            " (load_options::max_pixels); not decoded");
    const int len = static_cast<int>(size);
    int w = 0, h = 0, c = 0;
    png_layout png;
    if (f == image_format::png) png = walk_png_chunks(p, size, name);
    if (f == image_format::jpeg) {
        int components = 0;
        jpeg_frame_header(p, size, name, w, h, components);
        if (components != 1 && components != 3 && components != 4)
            fail_load(name, "unsupported JPEG component count " + std::to_string(components));
        c = components == 1 ? 1 : 3;  // CMYK and YCCK become RGB
    } else if (!stbi_info_from_memory(p, len, &w, &h, &c)) {
        fail_load(name, std::string("not a readable ") + (f == image_format::tga ? "PNG, JPEG, BMP or TGA" : to_string(f)) +
                            " header (" + stb_reason() + ")");
    }
    // stb's header scan stops at IHDR for grey and RGB files, so it misses a tRNS colour key; the
    // decoder then adds an alpha channel for it (palette files are counted right already).
    if (png.has_trns && (png.color_type == 0 || png.color_type == 2)) ++c;
    if (w <= 0 || h <= 0) fail_load(name, "the header declares an empty picture");
    if (c < 1 || c > 4) fail_load(name, "unsupported channel count " + std::to_string(c));
    const std::int64_t pixels = std::int64_t(w) * h;
    if (pixels > opts.max_pixels)
        fail_load(name, "the header declares " + std::to_string(w) + " x " + std::to_string(h) + " pixels (" +
                            std::to_string(pixels) + "), more than the limit of " + std::to_string(opts.max_pixels) +
                            " (load_options::max_pixels); not decoded");
    image_info info;
    info.width = w;
    info.height = h;
    info.channels = c;
    info.format = f;
    info.bits = (f == image_format::png && stbi_is_16_bit_from_memory(p, len)) ? 16 : 8;
    return info;
}

/// Decodes an encoded image in memory (PNG, JPEG, BMP, TGA); `name` appears in error messages.
inline image load_image_from_memory(const void* data, std::size_t size, const std::string& name = "<memory>",
                                    const load_options& opts = {}) {
    using namespace image_io_detail;
    const image_info info = read_image_info(data, size, name, opts);
    const auto* p = static_cast<const unsigned char*>(data);
    if (info.format == image_format::jpeg && !jpeg_reaches_eoi(p, size))
        fail_load(name, "truncated or corrupt JPEG: the data ends before the end-of-image marker");
    if (!raw_pixels_complete(info.format, p, size, info))
        fail_load(name, std::string("truncated ") + to_string(info.format) + ": the file holds fewer pixel bytes than its header announces");

    const int len = static_cast<int>(size);
    int w = 0, h = 0, c = 0;
    std::unique_ptr<void, stbi_deleter> pixels_raw;
    std::vector<unsigned char> jpeg_pixels;
    const void* pixels = nullptr;
    if (info.format == image_format::jpeg) {
        int colorspace = 0;
        jpeg_header(p, size, name, w, h, colorspace);
        if (w != info.width || h != info.height) fail_load(name, "the JPEG header changed between two reads");
        jpeg_pixels = decode_jpeg(p, size, name, w, h, colorspace, c);
        pixels = jpeg_pixels.data();
    } else {
        if (info.bits == 16)
            pixels_raw.reset(stbi_load_16_from_memory(p, len, &w, &h, &c, 0));
        else
            pixels_raw.reset(stbi_load_from_memory(p, len, &w, &h, &c, 0));
        if (!pixels_raw) fail_load(name, std::string("corrupt ") + to_string(info.format) + " data (" + stb_reason() + ")");
        pixels = pixels_raw.get();
    }
    if (w != info.width || h != info.height || c != info.channels)
        fail_load(name, "the decoded size (" + std::to_string(w) + " x " + std::to_string(h) + ", " + std::to_string(c) +
                            " channels) differs from the header's (" + std::to_string(info.width) + " x " +
                            std::to_string(info.height) + ", " + std::to_string(info.channels) + " channels)");

    image img;
    img.source_channels = c;
    img.source_bits = info.bits;
    const std::int64_t n = std::int64_t(w) * h;
    img.rgb = tensor::empty(shape{h, w, 3});
    const bool has_alpha = (c == 2 || c == 4);
    if (has_alpha) img.alpha = tensor::empty(shape{h, w, 1});
    float* rgb = img.rgb.data();
    float* alpha = has_alpha ? img.alpha.data() : nullptr;
    auto convert = [&](const auto* src, float full) {  // v / full: correctly rounded, v / 255 exactly as users compute it
        for (std::int64_t i = 0; i < n; ++i) {
            const auto* s = src + i * c;
            if (c <= 2) {
                rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = float(s[0]) / full;
            } else {
                rgb[3 * i] = float(s[0]) / full;
                rgb[3 * i + 1] = float(s[1]) / full;
                rgb[3 * i + 2] = float(s[2]) / full;
            }
            if (alpha) alpha[i] = float(s[c - 1]) / full;
        }
    };
    if (info.bits == 16)
        convert(static_cast<const std::uint16_t*>(pixels), 65535.0f);
    else
        convert(static_cast<const std::uint8_t*>(pixels), 255.0f);
    return img;
}

namespace image_io_detail {

/// The whole file in memory, with the reason in the error when it cannot be read. Only a regular
/// file is opened (a named pipe would block), and only one of at most opts.max_file_bytes.
inline std::vector<unsigned char> read_file(const std::filesystem::path& path, const load_options& opts) {
    const std::string name = path.string();
    auto fail = [&](const std::string& reason) { fail_load(name, reason); };
    const io::regular_file f = io::regular_file::open(path, fail);
    if (opts.max_file_bytes < 0 || f.size() > std::uint64_t(opts.max_file_bytes))
        fail_load(name, "the file has " + std::to_string(f.size()) + " bytes, more than the limit of " +
                            std::to_string(opts.max_file_bytes) + " (load_options::max_file_bytes)");
    std::vector<unsigned char> bytes(static_cast<std::size_t>(f.size()));
    bytes.resize(f.read_at(bytes.data(), bytes.size(), 0, fail));  // a file that shrank: what it held
    return bytes;
}

}  // namespace image_io_detail

/// Reads only the header of an image file.
inline image_info read_image_info(const std::filesystem::path& path, const load_options& opts = {}) {
    const auto bytes = image_io_detail::read_file(path, opts);
    return read_image_info(bytes.data(), bytes.size(), path.string(), opts);
}

/// Loads a PNG, JPEG, BMP or TGA file.
inline image load_image(const std::filesystem::path& path, const load_options& opts = {}) {
    const auto bytes = image_io_detail::read_file(path, opts);
    return load_image_from_memory(bytes.data(), bytes.size(), path.string(), opts);
}

namespace image_io_detail {

[[noreturn]] inline void fail_save(const std::filesystem::path& path, const std::string& reason) {
    throw io_error("image_io: cannot save '" + path.string() + "': " + reason);
}

/// 8-bit interleaved pixels from [H, W, C] colour (C = 1 or 3) and an optional [H, W, 1] alpha.
inline std::vector<unsigned char> to_bytes(const tensor& rgb, const tensor* alpha, const std::filesystem::path& path,
                                           int& comp) {
    if (!rgb.defined() || !rgb.on_cpu() || rgb.shape().rank() != 3 || (rgb.shape()[2] != 3 && rgb.shape()[2] != 1))
        throw shape_error("image_io: cannot save '" + path.string() + "': the image must be a CPU tensor [H, W, 3] or [H, W, 1], got " +
                          (rgb.defined() ? rgb.shape().str() : std::string("an undefined tensor")));
    const std::int64_t h = rgb.shape()[0], w = rgb.shape()[1], c = rgb.shape()[2];
    if (h < 1 || w < 1 || h > 65535 || w > 65535)
        throw shape_error("image_io: cannot save '" + path.string() + "': " + std::to_string(w) + " x " + std::to_string(h) +
                          " is not a size between 1 and 65535 pixels per side");
    if (alpha && (!alpha->defined() || !alpha->on_cpu() || alpha->shape() != shape{h, w, 1}))
        throw shape_error("image_io: cannot save '" + path.string() + "': the alpha must be a CPU tensor " +
                          shape{h, w, 1}.str() + ", got " + (alpha->defined() ? alpha->shape().str() : std::string("undefined")));
    comp = static_cast<int>(c) + (alpha ? 1 : 0);
    std::vector<unsigned char> out(static_cast<std::size_t>(h * w * comp));
    auto quantise = [&](float v) -> unsigned char {
        if (!std::isfinite(v))
            throw value_error("image_io: cannot save '" + path.string() + "': the image holds a non-finite value");
        v = std::min(1.0f, std::max(0.0f, v));
        return static_cast<unsigned char>(std::lrint(v * 255.0f));
    };
    const float* src = rgb.data();
    for (std::int64_t i = 0; i < h * w; ++i) {
        for (std::int64_t k = 0; k < c; ++k) out[static_cast<std::size_t>(i * comp + k)] = quantise(src[i * c + k]);
        if (alpha) out[static_cast<std::size_t>(i * comp + c)] = quantise(alpha->data()[i]);
    }
    return out;
}

inline void append_bytes(void* context, void* data, int size) {
    auto* v = static_cast<std::vector<unsigned char>*>(context);
    const auto* p = static_cast<const unsigned char*>(data);
    v->insert(v->end(), p, p + size);
}

}  // namespace image_io_detail

/// Writes `bytes` to `path` atomically: temporary file in the same folder, fsync, rename.
inline void write_file_atomic(const std::filesystem::path& path, const std::vector<unsigned char>& bytes) {
    using image_io_detail::fail_save;
    static std::atomic<std::uint64_t> counter{0};
    const std::filesystem::path folder = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    std::error_code ec;
    if (!std::filesystem::is_directory(folder, ec)) fail_save(path, "the folder '" + folder.string() + "' does not exist");
    // Built piece by piece: GCC 12 reports a false -Wrestrict for "literal" + std::string&& here.
    std::string tmp_name = ".";
    tmp_name += path.filename().string();
    tmp_name += ".tmp-";
    tmp_name += std::to_string(::getpid());
    tmp_name += "-";
    tmp_name += std::to_string(counter++);
    const std::filesystem::path tmp = folder / tmp_name;
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) fail_save(path, "cannot create the temporary file '" + tmp.string() + "' (" + std::strerror(errno) + ")");
    auto abandon = [&](const std::string& what, int err) {
        ::close(fd);
        ::unlink(tmp.c_str());
        fail_save(path, what + " (" + std::strerror(err) + "); the destination was not changed");
    };
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t r = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (r < 0) {
            if (errno == EINTR) continue;
            abandon("writing the temporary file failed, the disk may be full", errno);
        }
        done += static_cast<std::size_t>(r);
    }
    if (::fsync(fd) != 0) abandon("flushing the temporary file failed", errno);
    if (::close(fd) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        fail_save(path, std::string("closing the temporary file failed (") + std::strerror(err) + "); the destination was not changed");
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        fail_save(path, std::string("renaming the temporary file failed (") + std::strerror(err) + "); the destination was not changed");
    }
    // Persist the rename itself; failure here leaves a complete file, so it is not an error.
    const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        (void)::fsync(dir);
        ::close(dir);
    }
}

/// Encodes [H, W, 3] (or [H, W, 1] grey) colour, and optionally an [H, W, 1] alpha, as PNG bytes.
inline std::vector<unsigned char> encode_png(const tensor& rgb, const tensor* alpha = nullptr,
                                             const std::filesystem::path& name = "<memory>") {
    int comp = 0;
    const auto px = image_io_detail::to_bytes(rgb, alpha, name, comp);
    std::vector<unsigned char> out;
    const int w = static_cast<int>(rgb.shape()[1]), h = static_cast<int>(rgb.shape()[0]);
    if (!stbi_write_png_to_func(&image_io_detail::append_bytes, &out, w, h, comp, px.data(), w * comp) || out.empty())
        image_io_detail::fail_save(name, "the PNG encoder failed");
    return out;
}

/// Encodes [H, W, 3] (or [H, W, 1] grey) colour as JPEG bytes; quality in [1, 100].
inline std::vector<unsigned char> encode_jpeg(const tensor& rgb, int quality = 95,
                                              const std::filesystem::path& name = "<memory>") {
    if (quality < 1 || quality > 100)
        throw value_error("image_io: cannot save '" + name.string() + "': JPEG quality " + std::to_string(quality) +
                          " is outside [1, 100]");
    int comp = 0;
    const auto px = image_io_detail::to_bytes(rgb, nullptr, name, comp);
    std::vector<unsigned char> out;
    const int w = static_cast<int>(rgb.shape()[1]), h = static_cast<int>(rgb.shape()[0]);
    if (!stbi_write_jpg_to_func(&image_io_detail::append_bytes, &out, w, h, comp, px.data(), quality) || out.empty())
        image_io_detail::fail_save(name, "the JPEG encoder failed");
    return out;
}

/// Saves colour (and an optional alpha channel, as RGBA) to a PNG file, atomically.
inline void save_png(const std::filesystem::path& path, const tensor& rgb, const tensor* alpha = nullptr) {
    write_file_atomic(path, encode_png(rgb, alpha, path));
}
inline void save_png(const std::filesystem::path& path, const image& img) {
    save_png(path, img.rgb, img.has_alpha() ? &img.alpha : nullptr);
}

/// Saves colour to a JPEG file (no alpha in JPEG), atomically.
inline void save_jpeg(const std::filesystem::path& path, const tensor& rgb, int quality = 95) {
    write_file_atomic(path, encode_jpeg(rgb, quality, path));
}

}  // namespace hg::data
