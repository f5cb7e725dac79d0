// hg::swap::estimate_training_memory: the memory a face-swap training run (swap/trainer.hpp) will
// take, itemised, on the CPU and on a CUDA GPU, before anything is allocated: the encoder and the
// decoders are built as shapes only (layer_builder, layers/memory.hpp), never bound.
//
// What is counted (bytes of float32), per item:
//   parameters, gradients   one flat buffer each per network (encoder + K decoders), 16-element
//                           alignment padding included (layers/parameters.hpp)
//   optimizer state         the rule's state buffers (0 to 2 per network, ops::optim_state_buffers)
//   activations             what the layers keep from forward for backward at the batch size: the
//                           encoder's once (shared by the sides, which run one after the other),
//                           every decoder's (each keeps its own) - layers/memory.hpp
//   activation gradients    the backward buffers of the same layers, and each decoder's input gradient
//   workspace               CPU: the backend's scratch, the largest that one convolution asks for
//                           (im2col chunks of at most 48 MiB, tiles, Winograd transforms); GPU: the
//                           cuBLAS workspace (32 MiB) and, for cuDNN, the largest convolution's
//                           im2col matrix as the working guess (the algorithm search picks the
//                           real one at the first step, up to 1 GiB while it searches)
//   batches and loss        per side the uploaded batch (input, target, masks) kept between steps,
//                           and once (freed after each side) the loss's temporaries: the masked
//                           prediction and target, the masked gradient, the output gradient and a
//                           term's own gradient, and with a mask head the split channels
//   loader buffers (host)   per side a ring of prefetch + retained batches (input, target, mask at
//                           the output size; data/batch_loader.hpp), page-locked with a GPU
//   face cache (host)       per side the decoded faces at the training size, up to the dataset's
//                           cache budget (only when the number of faces is given)
// Not counted: the process itself (code, libraries, thread stacks, allocator slack), the OpenMP and
// Eigen per-thread blocks (a few MiB), and the checkpoint save's transient copies (listed apart:
// host copies of the parameters and the optimizer state, and the encoded file).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/layers/memory.hpp"
#include "hourglass/ops/optim.hpp"
#include "hourglass/optim/config.hpp"
#include "hourglass/swap/architectures.hpp"
#include "hourglass/swap/saehd.hpp"

namespace hg::swap {

struct memory_estimate_options {
    std::int64_t batch = 16;           ///< faces per side and iteration
    std::string optimizer = "adam";    ///< optim::by_name
    std::int64_t mask_channels = 3;    ///< of the datasets' masks: 3 (face, eye, mouth) or 1
    int cpu_threads = 0;               ///< the CPU backend's threads (scratch per thread); 0: all
    int prefetch = 4, retained = 1;    ///< the batch loader's ring (batch_loader_options)
    std::int64_t faces_per_side = 0;   ///< > 0: count the face cache of datasets this large
    std::size_t cache_bytes = std::size_t(1) << 30;  ///< the dataset's cache budget per side
};

struct memory_item {
    std::string name;
    std::int64_t bytes = 0;
    bool host = false;  ///< host memory also when training on a GPU (loader ring, face cache)
};

struct memory_estimate {
    std::string device;  ///< "cpu" or "cuda"
    std::vector<memory_item> items;
    std::int64_t checkpoint_save = 0;  ///< transient host bytes while a checkpoint is written

    std::int64_t total() const {
        std::int64_t t = 0;
        for (const auto& i : items) t += i.bytes;
        return t;
    }
    /// Bytes of the items in device memory (all of them on the CPU).
    std::int64_t device_total() const {
        std::int64_t t = 0;
        for (const auto& i : items)
            if (!i.host || device == "cpu") t += i.bytes;
        return t;
    }
    std::int64_t host_total() const { return device == "cpu" ? total() : total() - device_total(); }
    std::int64_t bytes_of(const std::string& name) const {
        for (const auto& i : items)
            if (i.name == name) return i.bytes;
        throw value_error("memory estimate: no item '" + name + "'");
    }
};

namespace detail {

inline std::string mib(std::int64_t bytes) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f MiB", double(bytes) / 1048576.0);
    return b;
}

}  // namespace detail

namespace detail {

/// The networks of a model as shapes: parameter elements (alignment padding included), the
/// largest network's, and the buffers of a training step (layers/memory.hpp).
struct networks_estimate {
    std::int64_t params = 0, largest_network = 0;
    layer_memory memory;
};

/// swap_model: the encoder's buffers once (the sides run one after the other), every decoder's
/// (each keeps its own). liae_model: encoder, inter_ab, inter_a and the one decoder once each, plus
/// the joined code, its half-gradient and the encoder's summed input gradient (liae_model.hpp).
template <class Arch, int Channels, int K>
networks_estimate estimate_networks(std::int64_t n, const hg::cpu& cpu) {
    networks_estimate r;
    const shape in_shape{Arch::input, Arch::input, 3};
    typename Arch::encoder::template bind<hg::cpu> encoder;
    typename Arch::template decoder<Channels>::template bind<hg::cpu> decoder;
    layer_builder eb("encoder"), db("decoder");
    const shape code = encoder.build(eb, in_shape);
    r.memory = network_memory(encoder, in_shape, code, n, false, cpu);
    if constexpr (is_liae<Arch>) {
        typename Arch::inter::template bind<hg::cpu> inter;
        layer_builder ib("inter");
        const shape half = inter.build(ib, code);
        const shape joined{half[0], half[1], 2 * half[2]};
        const shape y = decoder.build(db, joined);
        const layer_memory im = network_memory(inter, code, half, n, true, cpu);
        r.memory += im;
        r.memory += im;
        r.memory += network_memory(decoder, joined, y, n, true, cpu);
        r.memory.activations += n * joined.numel();
        r.memory.gradients += n * (2 * half.numel() + code.numel());
        r.params = eb.layout().buffer_size() + 2 * ib.layout().buffer_size() + db.layout().buffer_size();
        r.largest_network = std::max({eb.layout().buffer_size(), ib.layout().buffer_size(), db.layout().buffer_size()});
    } else {
        const shape y = decoder.build(db, code);
        const layer_memory dm = network_memory(decoder, code, y, n, true, cpu);
        for (int k = 0; k < K; ++k) r.memory += dm;
        r.params = eb.layout().buffer_size() + K * db.layout().buffer_size();
        r.largest_network = std::max(eb.layout().buffer_size(), db.layout().buffer_size());
    }
    return r;
}

}  // namespace detail

/// The estimate for architecture Arch (with a mask head when Mask) and K identities, on the CPU
/// (device "cpu") or a CUDA GPU ("cuda"). value_error for a batch < 1, an unknown optimizer or
/// device.
template <class Arch, bool Mask, int K = 2>
memory_estimate estimate_training_memory(const memory_estimate_options& o, const std::string& device) {
    if (o.batch < 1) throw value_error("memory estimate: the batch must be >= 1, got " + std::to_string(o.batch));
    if (device != "cpu" && device != "cuda")
        throw value_error("memory estimate: the device must be cpu or cuda, got '" + device + "'");
    if (o.mask_channels != 1 && o.mask_channels != 3)
        throw value_error("memory estimate: mask channels must be 1 or 3, got " + std::to_string(o.mask_channels));
    constexpr std::int64_t f = sizeof(float);
    constexpr int channels = Mask ? 4 : 3;
    const std::int64_t n = o.batch, in = Arch::input, out = Arch::output;
    const hg::cpu cpu(o.cpu_threads);

    // The networks as shapes: built, never bound (no parameter or activation is allocated).
    const detail::networks_estimate nets = detail::estimate_networks<Arch, channels, K>(n, cpu);
    const std::int64_t params = nets.params;

    const auto rule = optim::by_name(o.optimizer, 1e-4);
    const unsigned used = ops::optim_state_buffers(rule.rule, static_cast<float>(rule.momentum));
    const std::int64_t state_buffers = (used & 1u ? 1 : 0) + (used & 2u ? 1 : 0);

    memory_estimate e;
    e.device = device;
    e.items.push_back({"parameters", params * f, false});
    e.items.push_back({"gradients", params * f, false});
    e.items.push_back({"optimizer state (" + o.optimizer + ")", state_buffers * params * f, false});
    e.items.push_back({"activations kept for backward", nets.memory.activations * f, false});
    e.items.push_back({"activation gradients", nets.memory.gradients * f, false});
    if (device == "cpu") {
        e.items.push_back({"workspace (conv scratch)", nets.memory.cpu_scratch * f, false});
    } else {
        // The largest im2col matrix of one convolution of the model, as cuDNN's GEMM algorithms
        // need about that much; the search may pick another (see the file comment).
        hg::cpu one(1);
        one.set_conv_algorithm(cpu_conv_algorithm::im2col);
        const detail::networks_estimate im2col = detail::estimate_networks<Arch, channels, K>(n, one);
        e.items.push_back({"workspace (cuBLAS 32 MiB + cuDNN)", (std::int64_t{32} << 20) + im2col.memory.cpu_scratch * f,
                           false});
    }
    const std::int64_t img_in = n * in * in * 3, img_out = n * out * out * 3, mask = n * out * out * o.mask_channels;
    std::int64_t loss_temp = 5 * img_out;                       // masked pred/target, gradient, d(rgb), a term's
    if (Mask) loss_temp += img_out + 2 * n * out * out + n * out * out * channels;  // split, d(mask), joined dy
    e.items.push_back({"batches and loss buffers", (K * (img_in + img_out + mask) + loss_temp) * f, false});
    const std::int64_t ring = o.prefetch + o.retained;
    e.items.push_back({"loader buffers", K * ring * (2 * img_out + mask) * f, true});
    if (o.faces_per_side > 0) {
        const std::int64_t face = out * out * (3 + o.mask_channels) * f;
        const std::int64_t cached = std::min<std::int64_t>(o.faces_per_side * face, static_cast<std::int64_t>(o.cache_bytes));
        e.items.push_back({"face cache", K * cached, true});
    }
    // A save copies every parameter to the host, serialises the optimizer state (a stream and its
    // copy of the largest network's), and encodes the file (parameters + state) in memory.
    const std::int64_t enc_state = state_buffers * nets.largest_network * f;
    const std::int64_t state = state_buffers * params * f;
    e.checkpoint_save = params * f + state + 2 * enc_state + params * f + state;
    return e;
}

/// The estimate for the architecture called `arch` (swap/architectures.hpp).
inline memory_estimate estimate_training_memory(const std::string& arch, bool mask, const memory_estimate_options& o,
                                                const std::string& device) {
    return with_architecture(arch, [&](auto a) {
        using A = decltype(a);
        return mask ? estimate_training_memory<A, true>(o, device) : estimate_training_memory<A, false>(o, device);
    });
}

/// The estimate as a table: one line per item (MiB), the total, the save's transient copies.
inline std::string memory_table(const memory_estimate& e) {
    std::string s;
    char line[160];
    const bool gpu = e.device == "cuda";
    std::snprintf(line, sizeof line, "%s training memory (estimate):\n", gpu ? "GPU (CUDA)" : "CPU");
    s += line;
    for (const auto& i : e.items) {
        std::snprintf(line, sizeof line, "  %-36s %12s%s\n", i.name.c_str(), detail::mib(i.bytes).c_str(),
                      gpu && i.host ? "  (host)" : "");
        s += line;
    }
    if (gpu) {
        std::snprintf(line, sizeof line, "  %-36s %12s\n  %-36s %12s\n", "total on the GPU", detail::mib(e.device_total()).c_str(),
                      "total on the host (page-locked)", detail::mib(e.host_total()).c_str());
    } else {
        std::snprintf(line, sizeof line, "  %-36s %12s\n", "total", detail::mib(e.total()).c_str());
    }
    s += line;
    std::snprintf(line, sizeof line, "  %-36s %12s\n", "+ while saving a checkpoint (host)", detail::mib(e.checkpoint_save).c_str());
    s += line;
    return s;
}

}  // namespace hg::swap
