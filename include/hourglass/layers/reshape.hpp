// hg::reshape<Dims...> and hg::flatten: change the per-sample shape without changing the data
// (NHWC is contiguous, so this is a copy into the next buffer with the new shape).
#pragma once

#include <string>

#include "hourglass/layers/layer.hpp"
#include "hourglass/ops/elementwise.hpp"

namespace hg {

template <class B, bool Flatten, int... Dims>
class reshape_layer {
public:
    using T = typename B::scalar;
    using tensor_type = basic_tensor<T>;

    shape build(layer_builder& b, const shape& in) {
        name_ = b.path();
        in_ = in;
        const shape out = Flatten ? shape{in.numel()} : shape{Dims...};
        if (out.numel() != in.numel())
            throw shape_error(name_ + ": input has shape " + detail::batched(in) + " with " +
                              std::to_string(in.numel()) + " values per sample, cannot reshape to " +
                              detail::batched(out));
        return out;
    }
    void bind(const parameters<B>&) {}

    void forward(B& be, const tensor_type& x, const tensor_type& y) {
        detail::check_layer_input(x, in_, name_, "input");
        ops::copy(be, x, y);
    }
    void backward(B& be, const tensor_type&, const tensor_type&, const tensor_type& dy, const tensor_type* dx) {
        if (dx) ops::copy(be, dy, *dx);
    }

private:
    std::string name_;
    shape in_;
};

template <int... Dims>
struct reshape {
    static_assert(sizeof...(Dims) >= 1 && sizeof...(Dims) <= 3, "reshape: give 1 to 3 per-sample extents");
    static_assert(((Dims >= 1) && ...), "reshape: extents must be positive");
    static std::string type_name() { return detail::type_name_of("reshape", Dims...); }
    template <class B>
    using bind = reshape_layer<B, false, Dims...>;
};

struct flatten {
    static std::string type_name() { return "flatten"; }
    template <class B>
    using bind = reshape_layer<B, true>;
};

}  // namespace hg
