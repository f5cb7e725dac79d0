// libFuzzer target for the checkpoint decoder: arbitrary bytes into hg::io::decode_checkpoint.
// Any input must either decode or throw hg::format_error; anything else (a crash, a sanitizer
// report, another exception, a hang, an allocation the input's size does not justify) is a bug.
// A decoded checkpoint must encode back to exactly the input's bytes (the format has one spelling
// for each checkpoint, guarded by CRCs), and its header must be a JSON object.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "hourglass/io/checkpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    hg::io::checkpoint c;
    try {
        c = hg::io::decode_checkpoint(bytes, "fuzz input");
    } catch (const hg::format_error&) {
        return 0;
    }
    if (!c.header.is_object()) __builtin_trap();
    if (hg::io::encode_checkpoint(c) != bytes) __builtin_trap();
    return 0;
}
