// hg::io::checkpoint_store: the checkpoint files of one model folder, kept so that a crash, a
// kill or a full disk at any moment leaves a complete checkpoint to resume from.
//
// Files in the model folder:
//   model.hgc          the current checkpoint (what load() returns)
//   model.backup.hgc   the backup: the current of the last save() that said `improved`
//   model.new.hgc      transient: an `improved` save's new checkpoint until it is renamed to
//                      model.hgc (only left behind by a crash between the two renames)
//   .model*.tmp-PID-N  transient: data::write_file_atomic's temporary files (left behind only by
//                      a killed process; removed by the next save once process PID is gone)
//
// save(c, improved):
//   improved = false: model.hgc is replaced atomically (temporary file, fsync, rename); the backup
//                     stays as it is.
//   improved = true:  the new checkpoint is first written completely to model.new.hgc (atomically,
//                     fsync'ed); then model.hgc is renamed to model.backup.hgc (replacing the old
//                     backup) and model.new.hgc to model.hgc, and the folder is fsync'ed. Writing
//                     first means that a full disk fails before any existing file was touched.
//   The folder is created when missing. Any failure (the folder cannot be created or written, the
//   disk is full) is an io_error naming the file and the reason, and model.hgc and
//   model.backup.hgc are left exactly as they were. A checkpoint with non-finite weights is a
//   value_error before anything is written (encode_checkpoint).
// load(): model.hgc; if it cannot be loaded for any reason (missing, truncated, corrupt, not a
//   regular file, too large for memory: any exception), model.backup.hgc, with
//   a warning naming the current file and why it failed (warnings() collects them across calls;
//   nothing is printed). If both fail: format_error naming both files and both reasons; if neither
//   file exists: io_error.
// A kill at any instant of save() leaves model.hgc, or failing that model.backup.hgc, holding one
// complete checkpoint that some save() wrote (tests/cpu/test_checkpoint.cpp kills a saving child
// process at random moments and checks this bitwise).
// One store object per folder and process; concurrent writers to one folder are not supported.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/io/checkpoint.hpp"

namespace hg::io {

class checkpoint_store {
public:
    explicit checkpoint_store(std::filesystem::path model_dir) : dir_(std::move(model_dir)) {}

    const std::filesystem::path& folder() const { return dir_; }
    std::filesystem::path current_path() const { return dir_ / "model.hgc"; }
    std::filesystem::path backup_path() const { return dir_ / "model.backup.hgc"; }
    std::filesystem::path staging_path() const { return dir_ / "model.new.hgc"; }

    /// Whether there is anything to load (the current or the backup file).
    bool exists() const {
        std::error_code ec;
        return std::filesystem::is_regular_file(current_path(), ec) ||
               std::filesystem::is_regular_file(backup_path(), ec);
    }

    /// Saves `c` as the current checkpoint; `improved`: the previous current becomes the backup.
    void save(const checkpoint& c, bool improved) {
        std::vector<unsigned char> bytes;
        checkpoint_detail::encode_into(c, bytes);  // value_error / device_error: nothing touched
        std::error_code ec;
        std::filesystem::create_directories(dir_, ec);
        if (ec || !std::filesystem::is_directory(dir_))
            throw io_error("checkpoint_store: cannot create the folder '" + dir_.string() + "' (" +
                           (ec ? ec.message() : std::string("a file of that name is in the way")) + ")");
        remove_stale_temporaries();
        if (!improved || !std::filesystem::is_regular_file(current_path(), ec)) {
            checkpoint_detail::write_atomic(current_path(), bytes);
            return;
        }
        checkpoint_detail::write_atomic(staging_path(), bytes);
        if (std::rename(current_path().c_str(), backup_path().c_str()) != 0) {
            const int err = errno;
            std::filesystem::remove(staging_path(), ec);
            fail_rename(current_path(), backup_path(), err, "nothing was changed");
        }
        if (std::rename(staging_path().c_str(), current_path().c_str()) != 0) {
            const int err = errno;
            // Put the previous current back; the old backup is gone already.
            const bool restored = std::rename(backup_path().c_str(), current_path().c_str()) == 0;
            fail_rename(
                staging_path(), current_path(), err,
                restored ? "the previous current checkpoint was put back; the new one is in " + staging_path().string()
                         : "the previous current checkpoint is now " + backup_path().string());
        }
        sync_folder();
    }

    /// The current checkpoint, or the backup when the current cannot be loaded (with a warning).
    checkpoint load() {
        std::string current_reason, backup_reason;
        // Any failure of a file, not only the library's own errors (std::bad_alloc, a filesystem
        // error), moves on to the next file: a current that cannot be loaded must never hide a good
        // backup.
        try {
            return load_checkpoint_file(current_path());
        } catch (const std::exception& e) {
            current_reason = describe(e);
        }
        try {
            checkpoint c = load_checkpoint_file(backup_path());
            warnings_.push_back("checkpoint_store: the current checkpoint '" + current_path().string() +
                                "' could not be loaded (" + current_reason + "); loaded the backup '" +
                                backup_path().string() + "' instead");
            return c;
        } catch (const std::exception& e) {
            backup_reason = describe(e);
        }
        std::error_code ec;
        if (!std::filesystem::exists(current_path(), ec) && !std::filesystem::exists(backup_path(), ec))
            throw io_error("checkpoint_store: no checkpoint in '" + dir_.string() + "': neither '" +
                           current_path().filename().string() + "' nor '" + backup_path().filename().string() +
                           "' exists");
        throw format_error("checkpoint_store: no usable checkpoint in '" + dir_.string() + "': the current '" +
                           current_path().string() + "' failed (" + current_reason + ") and the backup '" +
                           backup_path().string() + "' failed (" + backup_reason + ")");
    }

    /// Warnings of the load() calls so far (the backup was used, and why).
    const std::vector<std::string>& warnings() const { return warnings_; }

private:
    /// The message of a failure, with the kind of a non-library exception said.
    static std::string describe(const std::exception& e) {
        if (dynamic_cast<const error*>(&e)) return e.what();
        if (dynamic_cast<const std::bad_alloc*>(&e)) return std::string("out of memory (") + e.what() + ")";
        return std::string("unexpected failure: ") + e.what();
    }

    [[noreturn]] static void fail_rename(const std::filesystem::path& from, const std::filesystem::path& to, int err,
                                         const std::string& state) {
        throw io_error("checkpoint_store: cannot rename '" + from.string() + "' to '" + to.string() + "' (" +
                       std::strerror(err) + "); " + state);
    }

    /// Makes the renames durable (as data::write_file_atomic does for its own); best effort.
    void sync_folder() const {
        const int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            (void)::fsync(fd);
            ::close(fd);
        }
    }

    /// Removes the temporary files of write_file_atomic (".<name>.tmp-<pid>-<n>") for our file
    /// names whose process no longer exists: a process killed while saving leaves one behind, as
    /// large as a checkpoint. Files of a live process (or of another user's) are kept.
    void remove_stale_temporaries() const {
        std::error_code ec;
        const std::string prefixes[] = {"." + current_path().filename().string() + ".tmp-",
                                        "." + staging_path().filename().string() + ".tmp-"};
        for (auto it = std::filesystem::directory_iterator(dir_, ec);
             !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
            const std::string name = it->path().filename().string();
            for (const std::string& prefix : prefixes) {
                if (name.compare(0, prefix.size(), prefix) != 0) continue;
                char* end = nullptr;
                const long pid = std::strtol(name.c_str() + prefix.size(), &end, 10);
                if (end == name.c_str() + prefix.size() || *end != '-' || pid <= 0 || pid == long(::getpid())) continue;
                if (::kill(pid_t(pid), 0) != 0 && errno == ESRCH) {
                    std::error_code ignored;
                    std::filesystem::remove(it->path(), ignored);
                }
            }
        }
    }

    std::filesystem::path dir_;
    std::vector<std::string> warnings_;
};

}  // namespace hg::io
