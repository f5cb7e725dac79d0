// hg::data::face_dataset: a folder of face crops (searched recursively; PNG, JPEG, BMP, TGA by
// extension, case-insensitive), in a fixed order (paths sorted byte-wise, relative to the root),
// each resized to the training size with area resampling (resize.hpp), with an optional mask per
// face, and an LRU cache of decoded faces bounded by a byte budget (face_cache.hpp).
//
// Masks: a face's mask is the file with the same relative stem under <root>/<mask_folder>/ (any of
// the image extensions; its channels are averaged), or else the face's own alpha channel.
// mask_source picks which: automatic (folder, then alpha, else no mask), folder (required: a face
// without a mask file is skipped), alpha (required: a face without alpha is skipped), none.
// The mask folder itself is not searched for faces.
//
// Region masks (what `hourglass-swap extract` writes): when EVERY face has, besides its mask, an
// eye-region mask under <root>/<eye_mask_folder>/ (default "masks-eye") and a mouth-region mask
// under <root>/<mouth_mask_folder>/ ("masks-mouth"), with the same relative stem, each face's mask
// has three channels (face, eye, mouth), mask_channels() is 3, and the face-swap trainer weights
// the eye and mouth regions by its multipliers. When only some faces have them they are ignored
// (with a warning) and masks have one channel. Neither folder is searched for faces.
//
// Errors and skips (nothing is printed; warnings() and skipped() hold what happened):
// - io_error: the root does not exist, is not a folder or cannot be listed; no image files at all;
//   fewer than dataset_options::min_images (default 2) usable faces after skipping.
// - skipped, with a warning and a skipped_count(): an unreadable file or subfolder, a broken link,
//   a file that is not an image of its extension's kind (or of any supported kind), a corrupt or
//   truncated file, a picture over load_options::max_pixels (refused from its header, never
//   decoded), a picture with a side shorter than dataset_options::min_side (default 8), and a
//   required mask that is missing or unreadable. Loading continues with the good files.
// With verify (the default) every face is decoded once at construction (on `threads` threads),
// so a truncated file is found then and the list of faces never changes afterwards; the decoded
// faces fill the cache up to its budget. Without verify only headers are read at construction, and
// get() throws io_error for a file that turns out to be corrupt later.
// get() is thread-safe (the batch loader's workers call it concurrently).
#pragma once

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/data/face_cache.hpp"
#include "hourglass/data/image_io.hpp"
#include "hourglass/data/resize.hpp"

namespace hg::data {

enum class mask_source { automatic, folder, alpha, none };

struct dataset_options {
    std::int64_t size = 64;                            ///< training size: faces become size x size
    mask_source masks = mask_source::automatic;
    std::filesystem::path mask_folder = "masks";       ///< relative to the root
    std::filesystem::path eye_mask_folder = "masks-eye";      ///< region masks, relative to the root
    std::filesystem::path mouth_mask_folder = "masks-mouth";  ///< (used only when every face has both)
    std::size_t cache_bytes = std::size_t(1) << 30;    ///< budget of the decoded-face cache
    std::int64_t min_side = 8;                         ///< shorter pictures are skipped
    std::size_t min_images = 2;                        ///< fewer usable faces is an error
    bool verify = true;                                ///< decode every face at construction
    int threads = 0;                                   ///< for verification; 0: hardware threads
    load_options load;                                 ///< max_pixels and max_file_bytes
};

struct skipped_file {
    std::filesystem::path path;
    std::string reason;
};

class face_dataset {
public:
    explicit face_dataset(std::filesystem::path root, dataset_options opts = {})
        : root_(std::move(root)), opts_(std::move(opts)), cache_(opts_.cache_bytes) {
        if (opts_.size < 1) throw value_error("face_dataset: the training size must be at least 1, got " + std::to_string(opts_.size));
        if (opts_.min_side < 1) opts_.min_side = 1;
        scan();
        check();
    }

    face_dataset(const face_dataset&) = delete;
    face_dataset& operator=(const face_dataset&) = delete;

    const std::filesystem::path& root() const { return root_; }
    const dataset_options& options() const { return opts_; }
    std::int64_t size() const { return static_cast<std::int64_t>(entries_.size()); }
    /// The training size (faces are size() x size()).
    std::int64_t face_size() const { return opts_.size; }

    const std::filesystem::path& path(std::int64_t i) const { return entry_at(i).path; }
    /// The mask file of face i (empty when the mask comes from the alpha channel or there is none).
    const std::filesystem::path& mask_path(std::int64_t i) const { return entry_at(i).mask_path; }
    /// Channels of every face's mask: 3 (face, eye, mouth) when the region masks are used, else 1
    /// (a face without a mask then trains with a mask of ones).
    std::int64_t mask_channels() const { return region_masks_ ? 3 : 1; }

    /// Face i at the training size, from the cache or decoded now (then cached within budget).
    std::shared_ptr<const face> get(std::int64_t i) const {
        const entry& e = entry_at(i);
        if (auto hit = cache_.find(i)) return hit;
        auto f = std::make_shared<const face>(decode(e));
        cache_.insert(i, f);
        return f;
    }

    /// Files that were left out, in path order, with the reason.
    const std::vector<skipped_file>& skipped() const { return skipped_; }
    std::size_t skipped_count() const { return skipped_.size(); }
    /// One line per skipped file, in path order ("path: reason").
    const std::vector<std::string>& warnings() const { return warnings_; }

    face_cache::stats cache_stats() const { return cache_.statistics(); }

private:
    struct entry {
        std::filesystem::path path;
        std::filesystem::path mask_path;
        std::filesystem::path eye_path, mouth_path;  ///< region masks (used when region_masks_)
    };

    const entry& entry_at(std::int64_t i) const {
        if (i < 0 || i >= size())
            throw value_error("face_dataset: index " + std::to_string(i) + " out of range for " + std::to_string(size()) +
                              " faces");
        return entries_[static_cast<std::size_t>(i)];
    }

    static bool is_image_name(const std::filesystem::path& p) {
        std::string ext = p.extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
        return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".tga";
    }

    void skip(const std::filesystem::path& p, std::string reason) {
        warnings_.push_back(p.string() + ": " + reason);
        skipped_.push_back({p, std::move(reason)});
    }

    /// Lists image files under `dir`, without following links to folders (no cycles).
    void walk(const std::filesystem::path& dir, std::vector<std::filesystem::path>& files,
              std::vector<skipped_file>& problems, const std::vector<std::filesystem::path>& mask_dirs) {
        std::error_code ec;
        std::filesystem::directory_iterator it(dir, ec), end;
        if (ec) {
            problems.push_back({dir, "cannot list the folder (" + ec.message() + ")"});
            return;
        }
        for (; it != end; it.increment(ec)) {
            if (ec) {
                problems.push_back({dir, "listing the folder failed (" + ec.message() + ")"});
                return;
            }
            const std::filesystem::path p = it->path();
            std::error_code sec;
            const auto lst = it->symlink_status(sec);
            if (!sec && std::filesystem::is_directory(lst)) {
                if (std::find(mask_dirs.begin(), mask_dirs.end(), p) != mask_dirs.end()) continue;
                walk(p, files, problems, mask_dirs);
                continue;
            }
            if (!is_image_name(p)) continue;
            const auto st = std::filesystem::status(p, sec);
            if (sec || !std::filesystem::exists(st))
                problems.push_back({p, "cannot read the file (a broken link or no access)"});
            else if (!std::filesystem::is_regular_file(st))
                problems.push_back({p, "not a regular file"});
            else
                files.push_back(p);
        }
    }

    std::filesystem::path find_mask(const std::filesystem::path& file, const std::filesystem::path& mask_dir) const {
        if (mask_dir.empty()) return {};
        const std::filesystem::path rel = file.lexically_relative(root_);
        const std::filesystem::path stem = mask_dir / rel.parent_path() / rel.stem();
        for (const char* ext : {".png", ".jpg", ".jpeg", ".bmp", ".tga", ".PNG", ".JPG", ".JPEG", ".BMP", ".TGA"}) {
            std::filesystem::path candidate = stem;
            candidate += ext;
            std::error_code ec;
            if (std::filesystem::is_regular_file(candidate, ec)) return candidate;
        }
        return {};
    }

    void scan() {
        std::error_code ec;
        const auto st = std::filesystem::status(root_, ec);
        if (ec || !std::filesystem::exists(st)) throw io_error("face_dataset: the folder '" + root_.string() + "' does not exist");
        if (!std::filesystem::is_directory(st)) throw io_error("face_dataset: '" + root_.string() + "' is not a folder");
        std::filesystem::directory_iterator probe(root_, ec);
        if (ec) throw io_error("face_dataset: cannot list the folder '" + root_.string() + "' (" + ec.message() + ")");

        const std::filesystem::path mask_dir =
            (opts_.masks == mask_source::automatic || opts_.masks == mask_source::folder) ? root_ / opts_.mask_folder
                                                                                          : std::filesystem::path();
        std::vector<std::filesystem::path> mask_dirs;
        if (!mask_dir.empty()) {
            mask_dirs = {mask_dir, root_ / opts_.eye_mask_folder, root_ / opts_.mouth_mask_folder};
        }
        std::vector<std::filesystem::path> files;
        std::vector<skipped_file> problems;
        walk(root_, files, problems, mask_dirs);
        found_ = files.size() + problems.size();

        std::vector<entry> candidates;
        candidates.reserve(files.size());
        std::size_t with_regions = 0;
        for (const auto& f : files) {
            entry e{f, find_mask(f, mask_dir), {}, {}};
            if (!e.mask_path.empty()) {
                e.eye_path = find_mask(f, root_ / opts_.eye_mask_folder);
                e.mouth_path = find_mask(f, root_ / opts_.mouth_mask_folder);
                if (!e.eye_path.empty() && !e.mouth_path.empty()) ++with_regions;
            }
            candidates.push_back(std::move(e));
        }
        region_masks_ = !candidates.empty() && with_regions == candidates.size();
        if (!region_masks_ && with_regions > 0)
            warnings_.push_back((root_ / opts_.eye_mask_folder).string() + ", " + (root_ / opts_.mouth_mask_folder).string() +
                                ": region masks ignored, " + std::to_string(candidates.size() - with_regions) + " of " +
                                std::to_string(candidates.size()) + " faces have no face, eye and mouth masks");

        // Verify each candidate (decode, or header only) on a few threads; results land in slots.
        std::vector<std::string> reasons(candidates.size());
        std::vector<std::shared_ptr<const face>> decoded(candidates.size());
        std::atomic<std::size_t> next{0};
        auto work = [&] {
            for (std::size_t i = next++; i < candidates.size(); i = next++) {
                try {
                    if (opts_.verify)
                        decoded[i] = std::make_shared<const face>(decode(candidates[i]));
                    else
                        check_header(candidates[i]);
                } catch (const std::exception& ex) {
                    reasons[i] = ex.what();
                    if (reasons[i].empty()) reasons[i] = "unknown error";
                }
            }
        };
        int threads = opts_.threads > 0 ? opts_.threads : static_cast<int>(std::thread::hardware_concurrency());
        threads = static_cast<int>(std::clamp<std::size_t>(static_cast<std::size_t>(std::max(threads, 1)), 1,
                                                           std::max<std::size_t>(candidates.size(), 1)));
        std::vector<std::thread> pool;
        for (int t = 1; t < threads; ++t) pool.emplace_back(work);
        work();
        for (auto& t : pool) t.join();

        // Merge in path order, so entries and warnings are deterministic.
        for (auto& p : problems) {
            candidates.push_back({p.path, {}, {}, {}});
            reasons.push_back(p.reason);
            decoded.emplace_back();
        }
        std::vector<std::size_t> order(candidates.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        auto key = [&](std::size_t i) { return candidates[i].path.lexically_relative(root_).generic_string(); };
        std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return key(a) < key(b); });
        for (std::size_t i : order) {
            if (!reasons[i].empty()) {
                skip(candidates[i].path, reasons[i]);
                continue;
            }
            const auto index = static_cast<std::int64_t>(entries_.size());
            entries_.push_back(candidates[i]);
            if (decoded[i]) cache_.insert(index, decoded[i]);
        }
    }

    void check() const {
        if (found_ == 0)
            throw io_error("face_dataset: no image files (.png, .jpg, .jpeg, .bmp, .tga) under '" + root_.string() + "'");
        if (entries_.size() < opts_.min_images) {
            std::string msg = "face_dataset: '" + root_.string() + "' has " + std::to_string(entries_.size()) +
                              " usable face(s), at least " + std::to_string(opts_.min_images) +
                              " are needed (dataset_options::min_images); " + std::to_string(skipped_.size()) + " skipped";
            for (std::size_t i = 0; i < skipped_.size() && i < 3; ++i) msg += "; " + warnings_[i];
            throw io_error(msg);
        }
    }

    void check_size(const std::filesystem::path& p, std::int64_t w, std::int64_t h) const {
        if (w < opts_.min_side || h < opts_.min_side)
            throw io_error("face_dataset: '" + p.string() + "' is " + std::to_string(w) + " x " + std::to_string(h) +
                           " pixels, smaller than the minimum side of " + std::to_string(opts_.min_side) +
                           " (dataset_options::min_side)");
    }

    void check_header(const entry& e) const {
        const image_info info = read_image_info(e.path, opts_.load);  // refuses more than max_pixels
        check_size(e.path, info.width, info.height);
        if (opts_.masks == mask_source::folder && e.mask_path.empty())
            throw io_error("face_dataset: no mask for '" + e.path.string() + "' under '" + (root_ / opts_.mask_folder).string() + "'");
        if (opts_.masks == mask_source::alpha && info.channels != 2 && info.channels != 4)
            throw io_error("face_dataset: '" + e.path.string() + "' has no alpha channel to use as its mask");
        if (!e.mask_path.empty()) (void)read_image_info(e.mask_path, opts_.load);
        if (region_masks_) {
            (void)read_image_info(e.eye_path, opts_.load);
            (void)read_image_info(e.mouth_path, opts_.load);
        }
    }

    /// A mask file as one channel at the training size (colour channels averaged: grey masks are
    /// stored replicated, so this is exact for them).
    tensor load_mask(const std::filesystem::path& face_path, const std::filesystem::path& mask_path, const char* what) const {
        image m;
        try {
            m = load_image(mask_path, opts_.load);
        } catch (const io_error& ex) {
            throw io_error(std::string("face_dataset: the ") + what + " of '" + face_path.string() + "' cannot be used: " + ex.what());
        }
        tensor grey = tensor::empty(shape{m.height(), m.width(), 1});
        const float* s = m.rgb.data();
        for (std::int64_t i = 0; i < grey.numel(); ++i) grey.data()[i] = (s[3 * i] + s[3 * i + 1] + s[3 * i + 2]) / 3.0f;
        return resize_area(grey, opts_.size, opts_.size);
    }

    face decode(const entry& e) const {
        const image img = load_image(e.path, opts_.load);
        check_size(e.path, img.width(), img.height());
        face f;
        f.rgb = resize_area(img.rgb, opts_.size, opts_.size);
        if (!e.mask_path.empty() && region_masks_) {
            const tensor planes[3] = {load_mask(e.path, e.mask_path, "mask"), load_mask(e.path, e.eye_path, "eye mask"),
                                      load_mask(e.path, e.mouth_path, "mouth mask")};
            f.mask = tensor::empty(shape{opts_.size, opts_.size, 3});
            const std::int64_t n = opts_.size * opts_.size;
            for (std::int64_t q = 0; q < n; ++q)
                for (int k = 0; k < 3; ++k) f.mask.data()[q * 3 + k] = planes[k].data()[q];
        } else if (!e.mask_path.empty()) {
            f.mask = load_mask(e.path, e.mask_path, "mask");
        } else if (opts_.masks == mask_source::folder) {
            throw io_error("face_dataset: no mask for '" + e.path.string() + "' under '" + (root_ / opts_.mask_folder).string() + "'");
        } else if (img.has_alpha() && opts_.masks != mask_source::none) {
            f.mask = resize_area(img.alpha, opts_.size, opts_.size);
        } else if (opts_.masks == mask_source::alpha) {
            throw io_error("face_dataset: '" + e.path.string() + "' has no alpha channel to use as its mask");
        }
        return f;
    }

    std::filesystem::path root_;
    dataset_options opts_;
    std::vector<entry> entries_;
    std::vector<skipped_file> skipped_;
    std::vector<std::string> warnings_;
    std::size_t found_ = 0;
    bool region_masks_ = false;
    mutable face_cache cache_;
};

}  // namespace hg::data
