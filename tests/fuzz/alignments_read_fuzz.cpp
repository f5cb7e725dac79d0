// libFuzzer target for the alignments file reader: arbitrary bytes parsed as JSON and read by
// hg::face::from_json. Any input must be read or throw hg::format_error (or value_error for a
// value out of its range); what is read must write back (to_json) to a document that reads again
// to the same text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "hourglass/face/alignments.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    hg::face::alignments a;
    try {
        a = hg::face::from_json(hg::io::json::parse(text), "fuzz input");
    } catch (const hg::format_error&) {
        return 0;
    } catch (const hg::value_error&) {
        return 0;
    }
    const std::string once = hg::face::to_json(a).dump();
    const std::string twice = hg::face::to_json(hg::face::from_json(hg::io::json::parse(once), "written")).dump();
    if (once != twice) __builtin_trap();
    return 0;
}
