// libFuzzer target for the JSON parser: arbitrary bytes into hg::io::json::parse. Any input must
// parse or throw hg::format_error (whose message holds no raw control byte: keys are quoted
// escaped). What parses must be valid UTF-8 in every string, and dump() then parse() must give the
// same text again (dump(parse(dump(v))) == dump(v)).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "hourglass/core/quote.hpp"
#include "hourglass/io/json.hpp"

namespace {

bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t n = hg::quote_detail::utf8_sequence(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

bool strings_valid(const hg::io::json& v) {
    using kind = hg::io::json::kind;
    switch (v.type()) {
        case kind::string: return valid_utf8(v.as_string());
        case kind::array:
            for (const auto& e : v.as_array())
                if (!strings_valid(e)) return false;
            return true;
        case kind::object:
            for (const auto& [k, e] : v.as_object())
                if (!valid_utf8(k) || !strings_valid(e)) return false;
            return true;
        default: return true;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    hg::io::json v;
    try {
        v = hg::io::json::parse(text);
    } catch (const hg::format_error& e) {
        const std::string msg = e.what();
        if (std::strlen(msg.c_str()) != msg.size()) __builtin_trap();  // a raw NUL in the message
        return 0;
    }
    if (!strings_valid(v)) __builtin_trap();
    const std::string once = v.dump();
    if (hg::io::json::parse(once).dump() != once) __builtin_trap();
    return 0;
}
