// CRC-32 as in IEEE 802.3, zlib and PNG: reflected polynomial 0xEDB88320, initial value and final
// xor 0xFFFFFFFF, so crc32("123456789") == 0xCBF43926. Table-driven, eight bytes per step
// ("slicing by 8": eight 256-entry tables built at compile time), a few GB/s on one core, which
// keeps checksumming a model of hundreds of megabytes well below the cost of writing it.
// Incremental: crc32(b, crc32(a)) == crc32(a + b).
//
// CRC-32C (Castagnoli), the checksum of TFRecord framing (TensorBoard event files,
// io/tensorboard.hpp), iSCSI and ext4: the same algorithm with the reflected polynomial 0x82F63B78,
// so crc32c("123456789") == 0xE3069283. masked_crc32c is TFRecord's masking of it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace hg::io {

namespace crc32_detail {

using tables = std::array<std::array<std::uint32_t, 256>, 8>;

/// t[0] is the classic byte table; t[k][b] is the CRC of byte b followed by k zero bytes, which lets
/// eight input bytes be folded in with eight independent lookups.
constexpr tables make_tables(std::uint32_t polynomial) {
    tables t{};
    for (std::uint32_t b = 0; b < 256; ++b) {
        std::uint32_t c = b;
        for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (polynomial & (0u - (c & 1u)));
        t[0][b] = c;
    }
    for (std::size_t k = 1; k < 8; ++k)
        for (std::size_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFFu];
    return t;
}

inline constexpr tables table = make_tables(0xEDB88320u);    // IEEE 802.3
inline constexpr tables table_c = make_tables(0x82F63B78u);  // Castagnoli

/// The reflected CRC of n bytes at p with the tables t, continuing from `crc`.
inline std::uint32_t update(const tables& t, const void* data, std::size_t n, std::uint32_t crc) {
    const auto* p = static_cast<const unsigned char*>(data);
    std::uint32_t c = ~crc;
    for (; n >= 8; n -= 8, p += 8) {
        // Little-endian assembly from bytes: the same result on any host byte order.
        const std::uint32_t lo = c ^ (std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
                                      std::uint32_t(p[3]) << 24);
        c = t[7][lo & 0xFFu] ^ t[6][(lo >> 8) & 0xFFu] ^ t[5][(lo >> 16) & 0xFFu] ^ t[4][lo >> 24] ^ t[3][p[4]] ^
            t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    }
    for (; n > 0; --n, ++p) c = (c >> 8) ^ t[0][(c ^ *p) & 0xFFu];
    return ~c;
}

}  // namespace crc32_detail

/// The CRC-32 of n bytes at p, continuing from `crc` (the CRC of the bytes before them; 0 to start).
inline std::uint32_t crc32(const void* data, std::size_t n, std::uint32_t crc = 0) {
    return crc32_detail::update(crc32_detail::table, data, n, crc);
}

inline std::uint32_t crc32(std::string_view bytes, std::uint32_t crc = 0) {
    return crc32(bytes.data(), bytes.size(), crc);
}

/// The CRC-32C (Castagnoli) of n bytes at p, continuing from `crc` (0 to start).
inline std::uint32_t crc32c(const void* data, std::size_t n, std::uint32_t crc = 0) {
    return crc32_detail::update(crc32_detail::table_c, data, n, crc);
}

inline std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc = 0) {
    return crc32c(bytes.data(), bytes.size(), crc);
}

/// TFRecord's masked CRC-32C: rotated right by 15 bits plus a constant, because a CRC computed
/// over data that itself holds CRCs is weak (TensorFlow's lib/hash/crc32c.h).
inline std::uint32_t masked_crc32c(const void* data, std::size_t n) {
    const std::uint32_t c = crc32c(data, n);
    return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}

}  // namespace hg::io
