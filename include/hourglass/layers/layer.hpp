// The layer protocol shared by every layer type.
//
// A layer *spec* is a small type whose template arguments are the hyperparameters
// (e.g. hg::conv2d<128, 5, 2>); it names itself with type_name() and binds to a backend through
// `typename Spec::template bind<B>`, the implementation. An implementation L provides:
//   shape build(layer_builder&, const shape& in)   checks the per-sample input shape (no batch
//       extent: [H, W, C] for images, [F] for vectors), declares its parameters, returns the
//       per-sample output shape; throws shape_error naming the layer and both shapes;
//   void bind(const parameters<B>&)                 takes views of its parameters and gradients;
//   void forward(B&, const T& x, const T& y)        writes y ([N] + output shape);
//   void backward(B&, const T& x, const T& y, const T& dy, const T* dx)
//       ADDS parameter gradients, WRITES dx (skipped when dx is null).
// x and y passed to backward are the tensors of the preceding forward call.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/core/shape.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/layers/parameters.hpp"

namespace hg {

/// Collects parameter declarations and tracks the path of the layer being built
/// ("encoder/2:conv2d<256, 5, 2>") for error messages and parameter names.
class layer_builder {
public:
    explicit layer_builder(std::string root) { path_.push_back(std::move(root)); }

    param_layout& layout() { return layout_; }
    param_layout take_layout() { return std::move(layout_); }

    std::string path() const {
        std::string p;
        for (std::size_t i = 0; i < path_.size(); ++i) p += (i ? "/" : "") + path_[i];
        return p;
    }
    void push(std::string part) { path_.push_back(std::move(part)); }
    void pop() { path_.pop_back(); }

    /// Declares a parameter named "<layer path>.<leaf>".
    std::size_t declare(const std::string& leaf, const shape& s, initializer init, std::int64_t fan_in = 0,
                        std::int64_t fan_out = 0) {
        return layout_.add(path() + "." + leaf, s, init, fan_in, fan_out);
    }

private:
    std::vector<std::string> path_;
    param_layout layout_;
};

/// RAII scope that enters a child layer's path.
class layer_scope {
public:
    layer_scope(layer_builder& b, std::string part) : b_(b) { b_.push(std::move(part)); }
    ~layer_scope() { b_.pop(); }
    layer_scope(const layer_scope&) = delete;
    layer_scope& operator=(const layer_scope&) = delete;

private:
    layer_builder& b_;
};

namespace detail {

/// Whether a layer only runs other layers (sequential, concat_branches): a layer profile times
/// their leaves, not the container.
template <class L>
inline constexpr bool is_container_layer = false;

/// "[N, 64, 64, 3]"-style rendering of a per-sample shape with a symbolic batch.
inline std::string batched(const shape& sample) {
    std::string s = sample.str();
    return "[N" + std::string(sample.rank() ? ", " : "") + s.substr(1);
}

/// Throws unless `x` is [n, sample...] with n >= 1, naming the layer and both shapes.
template <class T>
void check_layer_input(const basic_tensor<T>& x, const shape& sample, const std::string& layer, const char* what) {
    const shape& s = x.shape();
    bool ok = x.defined() && s.rank() == sample.rank() + 1;
    for (int i = 0; ok && i < sample.rank(); ++i) ok = s[i + 1] == sample[i];
    if (!ok)
        throw shape_error(layer + ": " + what + " has shape " + (x.defined() ? s.str() : std::string("(empty)")) +
                          ", expected " + batched(sample));
    if (s[0] < 1) throw shape_error(layer + ": " + what + " has a zero-size batch " + s.str());
}

/// The batched shape [n, sample...].
inline shape with_batch(std::int64_t n, const shape& sample) {
    switch (sample.rank()) {
        case 0: return shape{n};
        case 1: return shape{n, sample[0]};
        case 2: return shape{n, sample[0], sample[1]};
        case 3: return shape{n, sample[0], sample[1], sample[2]};
        default: throw shape_error("per-sample shape " + sample.str() + " has more than 3 dimensions");
    }
}

template <class... Args>
std::string type_name_of(const char* base, Args... args) {
    std::ostringstream os;
    os << base << '<';
    int i = 0;
    ((os << (i++ ? ", " : "") << args), ...);
    os << '>';
    return os.str();
}

}  // namespace detail
}  // namespace hg
