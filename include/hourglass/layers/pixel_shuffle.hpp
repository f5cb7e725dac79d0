// hg::pixel_shuffle: depth-to-space x2 in TensorFlow's order, [H, W, 4C] -> [2H, 2W, C]
// (out[2h + dy, 2w + dx, c] = in[h, w, (dy * 2 + dx) * C + c]); hg::pixel_unshuffle is its inverse,
// [2H, 2W, C] -> [H, W, 4C]. Both are permutations, so each one's backward is the other's forward.
#pragma once

#include <string>

#include "hourglass/layers/layer.hpp"
#include "hourglass/ops/elementwise.hpp"

namespace hg {

template <class B, bool ToSpace>
class pixel_shuffle_layer {
public:
    using T = typename B::scalar;
    using tensor_type = basic_tensor<T>;

    shape build(layer_builder& b, const shape& in) {
        name_ = b.path();
        if (in.rank() != 3)
            throw shape_error(name_ + ": input has shape " + detail::batched(in) + ", expected [N, H, W, C]");
        in_ = in;
        if (ToSpace) {
            if (in[2] % 4)
                throw shape_error(name_ + ": input has shape " + detail::batched(in) +
                                  ", expected channels divisible by 4");
            return shape{in[0] * 2, in[1] * 2, in[2] / 4};
        }
        if (in[0] % 2 || in[1] % 2)
            throw shape_error(name_ + ": input has shape " + detail::batched(in) + ", expected even H and W");
        return shape{in[0] / 2, in[1] / 2, in[2] * 4};
    }
    void bind(const parameters<B>&) {}

    void forward(B& be, const tensor_type& x, const tensor_type& y) {
        detail::check_layer_input(x, in_, name_, "input");
        if constexpr (ToSpace)
            ops::depth_to_space(be, x, y);
        else
            ops::space_to_depth(be, x, y);
    }
    /// The adjoint of a permutation is its inverse.
    void backward(B& be, const tensor_type&, const tensor_type&, const tensor_type& dy, const tensor_type* dx) {
        if (!dx) return;
        if constexpr (ToSpace)
            ops::space_to_depth(be, dy, *dx);
        else
            ops::depth_to_space(be, dy, *dx);
    }

private:
    std::string name_;
    shape in_;
};

struct pixel_shuffle {
    static std::string type_name() { return "pixel_shuffle"; }
    template <class B>
    using bind = pixel_shuffle_layer<B, true>;
};

struct pixel_unshuffle {
    static std::string type_name() { return "pixel_unshuffle"; }
    template <class B>
    using bind = pixel_shuffle_layer<B, false>;
};

}  // namespace hg
