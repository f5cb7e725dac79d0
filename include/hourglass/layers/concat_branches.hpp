// hg::concat_branches<First, Second>: two layer specs run on the same input, their outputs joined
// on the last axis (channels of [H, W, C] images, features of [F] vectors):
//   y = [ First(x) | Second(x) ]
// DeepFaceLab's decoders need it twice: the face and the mask branch both read the code, and the
// -d output is four convolutions of the same features concatenated before a depth-to-space.
// Backward: the join's adjoint is the slice (ops/channels.hpp), so dy splits into dy1 | dy2, each
// branch runs its backward, and the input gradient is the sum dx = dx1 + dx2 (both branches read x).
#pragma once

#include <string>

#include "hourglass/layers/layer.hpp"
#include "hourglass/ops/channels.hpp"
#include "hourglass/ops/elementwise.hpp"

namespace hg {

template <class B, class First, class Second>
class concat_branches_layer {
public:
    using T = typename B::scalar;
    using tensor_type = basic_tensor<T>;
    using first_type = typename First::template bind<B>;
    using second_type = typename Second::template bind<B>;

    shape build(layer_builder& b, const shape& in) {
        name_ = b.path();
        in_ = in;
        {
            layer_scope s(b, "0:" + First::type_name());
            out1_ = first_.build(b, in);
        }
        {
            layer_scope s(b, "1:" + Second::type_name());
            out2_ = second_.build(b, in);
        }
        const int r = out1_.rank();
        bool ok = (r == 1 || r == 3) && out2_.rank() == r;
        for (int i = 0; ok && i + 1 < r; ++i) ok = out1_[i] == out2_[i];
        if (!ok)
            throw shape_error(name_ + ": the branches give " + detail::batched(out1_) + " and " + detail::batched(out2_) +
                              ": both must be [N, F] or [N, H, W, C] and differ in the last extent only");
        const std::int64_t joined = last(out1_) + last(out2_);
        if (r == 1) return shape{joined};
        return shape{out1_[0], out1_[1], joined};
    }
    void bind(const parameters<B>& p) {
        first_.bind(p);
        second_.bind(p);
    }

    void forward(B& be, const tensor_type& x, const tensor_type& y) {
        detail::check_layer_input(x, in_, name_, "input");
        ensure_buffers(be, x.shape()[0]);
        first_.forward(be, x, y1_);
        second_.forward(be, x, y2_);
        const std::int64_t c1 = last(out1_), c2 = last(out2_);
        ops::copy_channels(be, y1_, 0, y, 0, c1);
        ops::copy_channels(be, y2_, 0, y, c1, c2);
    }

    void backward(B& be, const tensor_type& x, const tensor_type&, const tensor_type& dy, const tensor_type* dx) {
        detail::check_layer_input(x, in_, name_, "input");
        if (x.shape()[0] != batch_)
            throw shape_error(name_ + ": backward batch " + x.shape().str() + " differs from the last forward batch " +
                              std::to_string(batch_));
        const std::int64_t c1 = last(out1_), c2 = last(out2_);
        ops::copy_channels(be, dy, 0, dy1_, 0, c1);
        ops::copy_channels(be, dy, c1, dy2_, 0, c2);
        second_.backward(be, x, y2_, dy2_, dx ? &dx2_ : nullptr);
        first_.backward(be, x, y1_, dy1_, dx);
        if (dx) ops::axpy(be, T(1), dx2_, *dx);
    }

    first_type& first() { return first_; }
    second_type& second() { return second_; }
    /// Per-sample output shapes of the two branches.
    const shape& first_shape() const { return out1_; }
    const shape& second_shape() const { return out2_; }

private:
    static std::int64_t last(const shape& s) { return s[s.rank() - 1]; }

    void ensure_buffers(B& be, std::int64_t n) {
        if (n == batch_) return;
        y1_ = be.empty(detail::with_batch(n, out1_)), dy1_ = be.empty(detail::with_batch(n, out1_));
        y2_ = be.empty(detail::with_batch(n, out2_)), dy2_ = be.empty(detail::with_batch(n, out2_));
        dx2_ = be.empty(detail::with_batch(n, in_));
        batch_ = n;
    }

    first_type first_;
    second_type second_;
    tensor_type y1_, y2_, dy1_, dy2_, dx2_;
    std::int64_t batch_ = -1;
    std::string name_;
    shape in_, out1_, out2_;
};

template <class First, class Second>
struct concat_branches {
    static std::string type_name() { return "concat_branches"; }
    template <class B>
    using bind = concat_branches_layer<B, First, Second>;
};

namespace detail {
template <class B, class First, class Second>
inline constexpr bool is_container_layer<concat_branches_layer<B, First, Second>> = true;
}  // namespace detail

}  // namespace hg
