// A parameter set's tensors by name, as checkpoints hold them: copied to the host
// (append_host_parameters) and loaded back from a lookup by name (load_parameters), with a
// format_error naming the tensor when one is missing or has another shape. The training cycle and
// the face-swap model both save and load through these.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/data/host_batch.hpp"
#include "hourglass/layers/parameters.hpp"
#include "hourglass/ops/elementwise.hpp"

namespace hg::train {

/// Appends every parameter of `p` to `out` as (name, host copy).
template <class B>
void append_host_parameters(const B& be, const parameters<B>& p, std::vector<std::pair<std::string, tensor>>& out) {
    for (std::size_t i = 0; i < p.size(); ++i) out.emplace_back(p.entry(i).name, be.to_host(p.value(i)));
}

/// Loads every parameter of `p` from `find(name)` (a host tensor pointer, or nullptr when the
/// name is absent).
template <class B, class Find>
void load_parameters(const B& be, const parameters<B>& p, Find&& find) {
    for (std::size_t i = 0; i < p.size(); ++i) {
        const auto& e = p.entry(i);
        const tensor* t = find(e.name);
        if (!t) throw format_error("checkpoint: the tensor '" + e.name + "' is missing");
        if (t->shape() != e.shape)
            throw format_error("checkpoint: the tensor '" + e.name + "' has shape " + t->shape().str() + ", the model " +
                               e.shape.str());
        ops::copy(be, data::to_backend(be, *t), p.value(i));
    }
}

}  // namespace hg::train
