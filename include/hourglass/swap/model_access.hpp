// hg::swap::model_access<Derived>: what every face-swap model class offers on top of its own
// networks, written once (CRTP): the named host copies of all parameters, loading them by name and
// decoding host faces. Derived provides backend(), parameter_sets(), input_size() and
// forward(x, side).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "hourglass/core/tensor.hpp"
#include "hourglass/data/host_batch.hpp"
#include "hourglass/train/named_parameters.hpp"

namespace hg::swap {

template <class Derived>
class model_access {
public:
    /// Every named parameter as a host tensor ("encoder/...", "decoder_a/...", "inter_ab/...", ...).
    std::vector<std::pair<std::string, hg::tensor>> named_parameters() const {
        std::vector<std::pair<std::string, hg::tensor>> out;
        for (const auto* p : self().parameter_sets()) train::append_host_parameters(self().backend(), *p, out);
        return out;
    }

    /// Loads every parameter from `find(name)` (a host tensor pointer or nullptr); format_error
    /// naming the tensor when one is missing or has another shape.
    template <class Find>
    void load_parameters(Find&& find) {
        for (const auto* p : self().parameter_sets()) train::load_parameters(self().backend(), *p, find);
    }

    /// Decodes host faces ([N, H, W, 3], any size: resized to the input size) as identity `side`:
    /// host [N, out, out, C].
    hg::tensor decode_host(const hg::tensor& faces, int side) {
        auto& d = static_cast<Derived&>(*this);
        const auto x = hg::data::to_backend(d.backend(), hg::data::resize_batch(faces, Derived::input_size()));
        return d.backend().to_host(d.forward(x, side));
    }

private:
    const Derived& self() const { return static_cast<const Derived&>(*this); }
};

}  // namespace hg::swap
