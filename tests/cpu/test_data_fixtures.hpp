// Fixtures for the image io, dataset and loader tests: a self-deleting temporary folder, random
// 8-bit pixels, files written with stb_image_write, and a minimal PNG encoder (zlib stored blocks,
// CRC-32, Adler-32) for what stb_image_write cannot produce: 16-bit PNG and headers that declare
// huge pictures.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <stb_image_write.h>

#include "hourglass/core/rng.hpp"

namespace hg_test_data {

namespace fs = std::filesystem;

/// A fresh folder under the system temp folder, removed with everything in it on destruction.
class temp_dir {
public:
    temp_dir() {
        static std::atomic<int> counter{0};
        path_ = fs::temp_directory_path() /
                ("hg_data_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~temp_dir() {
        std::error_code ec;
        // Give back permissions taken away by a test so everything can be removed.
        for (auto it = fs::recursive_directory_iterator(path_, ec); !ec && it != fs::recursive_directory_iterator();
             it.increment(ec))
            fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
        fs::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const fs::path& path() const { return path_; }
    fs::path operator/(const std::string& name) const { return path_ / name; }

private:
    fs::path path_;
};

/// prefix + i + suffix (snprintf: GCC 12 warns falsely about std::string concatenation at -O3).
inline std::string numbered(const char* prefix, long i, const char* suffix = "") {
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s%ld%s", prefix, i, suffix);
    return buf;
}

inline void write_bytes(const fs::path& p, const std::vector<unsigned char>& bytes) {
    fs::create_directories(p.parent_path());
    std::ofstream f(p, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<unsigned char> read_bytes(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::vector<unsigned char>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

/// Random 8-bit pixels, interleaved, w * h * comp bytes.
inline std::vector<unsigned char> random_pixels(int w, int h, int comp, std::uint64_t seed) {
    hg::rng r(seed, 17);
    std::vector<unsigned char> px(static_cast<std::size_t>(w * h * comp));
    for (auto& v : px) v = static_cast<unsigned char>(r.next_bits() & 0xFF);
    return px;
}

/// A smooth 8-bit picture (gradients), which survives JPEG well.
inline std::vector<unsigned char> smooth_pixels(int w, int h, int comp) {
    std::vector<unsigned char> px(static_cast<std::size_t>(w * h * comp));
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < comp; ++c)
                px[static_cast<std::size_t>((y * w + x) * comp + c)] =
                    static_cast<unsigned char>(40 + (150 * (x + y + 7 * c)) / (w + h + 14));
    return px;
}

enum class fmt { png, jpeg, bmp, tga };

/// Writes pixels with stb_image_write; creates the parent folders.
inline void write_image(const fs::path& p, fmt f, int w, int h, int comp, const std::vector<unsigned char>& px) {
    fs::create_directories(p.parent_path());
    int ok = 0;
    switch (f) {
        case fmt::png: ok = stbi_write_png(p.c_str(), w, h, comp, px.data(), w * comp); break;
        case fmt::jpeg: ok = stbi_write_jpg(p.c_str(), w, h, comp, px.data(), 95); break;
        case fmt::bmp: ok = stbi_write_bmp(p.c_str(), w, h, comp, px.data()); break;
        case fmt::tga: ok = stbi_write_tga(p.c_str(), w, h, comp, px.data()); break;
    }
    if (!ok) throw std::runtime_error("fixture: cannot write " + p.string());
}

inline void write_random_png(const fs::path& p, int w, int h, int comp, std::uint64_t seed) {
    write_image(p, fmt::png, w, h, comp, random_pixels(w, h, comp, seed));
}

// ---- a minimal PNG encoder -----------------------------------------------------------------------

inline std::uint32_t crc32(const unsigned char* p, std::size_t n, std::uint32_t crc = 0) {
    crc = ~crc;
    for (std::size_t i = 0; i < n; ++i) {
        crc ^= p[i];
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

inline void put32(std::vector<unsigned char>& out, std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<unsigned char>(v >> s));
}

inline void put_chunk(std::vector<unsigned char>& out, const char* type, const std::vector<unsigned char>& data) {
    put32(out, static_cast<std::uint32_t>(data.size()));
    std::vector<unsigned char> body(type, type + 4);
    body.insert(body.end(), data.begin(), data.end());
    out.insert(out.end(), body.begin(), body.end());
    put32(out, crc32(body.data(), body.size()));
}

/// zlib stream of stored (uncompressed) deflate blocks.
inline std::vector<unsigned char> zlib_stored(const std::vector<unsigned char>& raw) {
    std::vector<unsigned char> z{0x78, 0x01};
    std::size_t pos = 0;
    do {
        const std::size_t len = std::min<std::size_t>(65535, raw.size() - pos);
        const bool last = pos + len == raw.size();
        z.push_back(last ? 1 : 0);
        z.push_back(static_cast<unsigned char>(len & 0xFF));
        z.push_back(static_cast<unsigned char>(len >> 8));
        z.push_back(static_cast<unsigned char>(~len & 0xFF));
        z.push_back(static_cast<unsigned char>((~len >> 8) & 0xFF));
        z.insert(z.end(), raw.begin() + static_cast<std::ptrdiff_t>(pos), raw.begin() + static_cast<std::ptrdiff_t>(pos + len));
        pos += len;
    } while (pos < raw.size());
    std::uint32_t a = 1, b = 0;
    for (unsigned char v : raw) {
        a = (a + v) % 65521;
        b = (b + a) % 65521;
    }
    put32(z, (b << 16) | a);
    return z;
}

inline std::vector<unsigned char> png_ihdr(std::uint32_t w, std::uint32_t h, int bits, int comp) {
    static const int color_type[5] = {0, 0, 4, 2, 6};  // grey, grey+alpha, RGB, RGBA
    std::vector<unsigned char> ihdr;
    put32(ihdr, w);
    put32(ihdr, h);
    ihdr.push_back(static_cast<unsigned char>(bits));
    ihdr.push_back(static_cast<unsigned char>(color_type[comp]));
    ihdr.push_back(0);
    ihdr.push_back(0);
    ihdr.push_back(0);
    return ihdr;
}

/// A 16-bit PNG (comp 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) from interleaved 16-bit samples.
inline std::vector<unsigned char> png16(int w, int h, int comp, const std::vector<std::uint16_t>& samples) {
    std::vector<unsigned char> out{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    put_chunk(out, "IHDR", png_ihdr(static_cast<std::uint32_t>(w), static_cast<std::uint32_t>(h), 16, comp));
    std::vector<unsigned char> raw;
    for (int y = 0; y < h; ++y) {
        raw.push_back(0);  // filter: none
        for (int i = 0; i < w * comp; ++i) {
            const std::uint16_t v = samples[static_cast<std::size_t>(y * w * comp + i)];
            raw.push_back(static_cast<unsigned char>(v >> 8));  // big-endian
            raw.push_back(static_cast<unsigned char>(v & 0xFF));
        }
    }
    put_chunk(out, "IDAT", zlib_stored(raw));
    put_chunk(out, "IEND", {});
    return out;
}

/// A PNG whose header declares w x h RGB pixels, with only a little (valid, too short) data.
inline std::vector<unsigned char> png_declaring(std::uint32_t w, std::uint32_t h) {
    std::vector<unsigned char> out{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    put_chunk(out, "IHDR", png_ihdr(w, h, 8, 3));
    put_chunk(out, "IDAT", zlib_stored(std::vector<unsigned char>(1000, 0)));
    put_chunk(out, "IEND", {});
    return out;
}

}  // namespace hg_test_data
