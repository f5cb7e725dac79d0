// hg::quoted: a name, key or path from a file, made safe to put into an error message. Names read
// from checkpoints, JSON keys and the like may hold any byte: a NUL would cut what() short, other
// control bytes would garble a terminal, invalid UTF-8 would break a log reader. So the text is
// quoted with every control byte (0x00-0x1F, 0x7F), backslash, the quote character and every byte
// that is not part of valid UTF-8 escaped as \xNN (\n, \r and \t as themselves); valid UTF-8 passes
// unchanged. Text longer than max_bytes is cut at a character boundary and says how long it was.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hg {

namespace quote_detail {

/// Length of the valid UTF-8 sequence at s[i] (RFC 3629: no overlong forms, no surrogates, at most
/// U+10FFFF), or 0 when the bytes there are not one.
inline std::size_t utf8_sequence(std::string_view s, std::size_t i) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char c = b(0);
    const std::size_t left = s.size() - i;
    auto cont = [&](std::size_t k) { return k < left && (b(k) & 0xC0) == 0x80; };
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (!cont(1) || !cont(2)) return 0;
        if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
        if (c == 0xED && b(1) >= 0xA0) return 0;  // UTF-16 surrogates
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (!cont(1) || !cont(2) || !cont(3)) return 0;
        if (c == 0xF0 && b(1) < 0x90) return 0;  // overlong
        if (c == 0xF4 && b(1) >= 0x90) return 0;  // above U+10FFFF
        return 4;
    }
    return 0;
}

}  // namespace quote_detail

/// `s` between `quote` characters, escaped as the header comment says.
inline std::string quoted(std::string_view s, char quote = '\'', std::size_t max_bytes = 200) {
    static const char hex[] = "0123456789abcdef";
    std::string out(1, quote);
    std::size_t i = 0;
    while (i < s.size()) {
        if (i >= max_bytes) {
            out += "...";
            out += quote;
            out += " (";
            out += std::to_string(s.size());
            out += " bytes)";
            return out;
        }
        const auto c = static_cast<unsigned char>(s[i]);
        const std::size_t n = quote_detail::utf8_sequence(s, i);
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\\' || c == static_cast<unsigned char>(quote)) {
            out += '\\';
            out += char(c);
        } else if (n == 0 || c < 0x20 || c == 0x7F) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out.append(s.substr(i, n));
            i += n;
            continue;
        }
        ++i;
    }
    out += quote;
    return out;
}

}  // namespace hg
