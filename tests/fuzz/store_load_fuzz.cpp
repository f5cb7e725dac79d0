// libFuzzer target for hg::io::checkpoint_store::load on the files of a model folder. The input is
// a 2-byte little-endian length n, then n bytes written as model.hgc and the rest as
// model.backup.hgc (an empty part: that file is absent). load() must return a checkpoint or throw
// hg::error, and never lose a good model: when the current file decodes, load() returns it; when
// only the backup decodes, load() returns the backup (with a warning).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "hourglass/io/checkpoint_store.hpp"

namespace {

namespace fs = std::filesystem;

/// The model folder of this process, removed when the fuzzer exits.
struct scratch_folder {
    fs::path path = fs::temp_directory_path() / ("hg_store_fuzz_" + std::to_string(::getpid()));
    scratch_folder() { fs::create_directories(path); }
    ~scratch_folder() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

const fs::path& folder() {
    static const scratch_folder dir;
    return dir.path;
}

void put(const fs::path& p, std::string_view bytes) {
    std::error_code ec;
    fs::remove(p, ec);
    if (bytes.empty()) return;
    std::ofstream f(p, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

bool decodes(std::string_view bytes, hg::io::checkpoint& out) {
    try {
        out = hg::io::decode_checkpoint(bytes, "part");
        return true;
    } catch (const hg::format_error&) {
        return false;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::size_t n = std::min<std::size_t>(size - 2, std::size_t(data[0]) | (std::size_t(data[1]) << 8));
    const std::string_view current(reinterpret_cast<const char*>(data) + 2, n);
    const std::string_view backup(reinterpret_cast<const char*>(data) + 2 + n, size - 2 - n);
    hg::io::checkpoint_store store(folder());
    put(store.current_path(), current);
    put(store.backup_path(), backup);
    hg::io::checkpoint want_current, want_backup;
    const bool current_ok = decodes(current, want_current), backup_ok = decodes(backup, want_backup);
    hg::io::checkpoint got;
    try {
        got = store.load();
    } catch (const hg::error&) {
        if (current_ok || backup_ok) __builtin_trap();  // a good model was lost
        return 0;
    }
    const hg::io::checkpoint& want = current_ok ? want_current : want_backup;
    if (!current_ok && !backup_ok) __builtin_trap();  // loaded something from two bad files
    if (hg::io::encode_checkpoint(got) != hg::io::encode_checkpoint(want)) __builtin_trap();
    if (!current_ok && store.warnings().empty()) __builtin_trap();  // the fallback must be said
    return 0;
}
