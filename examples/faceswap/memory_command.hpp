// The memory estimate of hourglass-swap (hg::swap::estimate_training_memory, docs/faceswap.md
// "Memory"): `info --model DIR [--batch N]` prints it for the model folder's architecture and
// options, `train --dry-run` for the run the same command line would start (resuming a folder's
// options as train does), both for the CPU and for a CUDA GPU, and nothing is trained.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>

#include "commands.hpp"
#include "hourglass/swap/memory_estimate.hpp"

namespace faceswap {

/// Prints the CPU and the GPU estimate (threads: the CPU backend's, 0 = all cores).
inline void print_memory_estimate(const std::string& arch, bool mask, const hg::swap::memory_estimate_options& o,
                                  const print_fn& print) {
    print("memory for training '" + arch + "'" + (mask ? " with mask head" : "") + " at batch " + std::to_string(o.batch) +
          " per side, optimizer " + o.optimizer + ":");
    for (const char* device : {"cpu", "cuda"}) {
        std::string table = hg::swap::memory_table(hg::swap::estimate_training_memory(arch, mask, o, device));
        if (!table.empty() && table.back() == '\n') table.pop_back();
        print(table);
    }
    print("(the process itself adds its code and libraries; docs/faceswap.md says how the estimate is made and how "
          "close it came to measured peaks)");
}

/// info's part: the estimate for the model folder's architecture, mask head and optimizer at
/// `batch` (0: the batch it was trained with).
inline void info_memory(const std::filesystem::path& model, std::int64_t batch, int threads, const print_fn& print) {
    hg::io::checkpoint_store store(model);
    if (!store.exists()) throw hg::io_error("no checkpoint in " + model.string());
    const auto h = store.load().header;
    hg::swap::memory_estimate_options o;
    o.batch = batch > 0 ? batch : h.at("options").at("batch").as_int();
    o.optimizer = h.at("options").at("optimizer").as_string();
    o.cpu_threads = threads;
    print_memory_estimate(h.at("architecture").as_string(), h.at("mask").as_bool(), o, print);
}

/// train --dry-run: the estimate for the run these options would start; trains nothing.
inline void train_dry_run(train_command_options o, const print_fn& print) {
    hg::io::checkpoint_store store(o.model);
    if (store.exists()) {
        const auto ignored = apply_header(o, store.load().header);
        print("the model folder " + o.model.string() + " holds a checkpoint: its options apply");
        if (!ignored.empty()) print(ignored_options_warning(o.model, ignored));
    }
    hg::swap::memory_estimate_options m;
    m.batch = o.train.batch;
    m.optimizer = o.train.optimizer;
    m.cpu_threads = o.threads;
    m.faces_per_side = 0;
    hg::swap::with_architecture(o.train.architecture, [&](auto arch) {
        hg::data::dataset_options dopt;
        dopt.size = decltype(arch)::output;
        dopt.verify = false;  // the count and the mask kind are enough here
        const hg::data::face_dataset da(o.a, dopt), db(o.b, dopt);
        m.faces_per_side = std::max(da.size(), db.size());
        m.mask_channels = std::max(da.mask_channels(), db.mask_channels());
        m.cache_bytes = dopt.cache_bytes;
    });
    print_memory_estimate(o.train.architecture, o.train.mask, m, print);
    print("dry run: nothing was trained");
}

}  // namespace faceswap
