// The parts a training cycle (train/cycle.hpp) is built from:
// - side_source: where one side's batches come from (a sample producer over `samples` samples,
//   the batch geometry); the cycle runs one data::batch_loader per side on it.
// - side_task<B>: what an iteration does with that side's batch on backend B: upload() copies the
//   host batch to the backend (the cycle uploads every side before any compute, so a device
//   backend runs all sides without a host round trip between them), compute() runs forward, loss
//   and backward: it writes the side's loss terms into a [terms] backend tensor (the cycle reads
//   all sides' terms once per iteration; the side's loss is their sum) and adds the gradients into
//   the parameter gradients of the networks it uses.
// - network<B>: a parameter set with a name; the cycle keeps one optimizer per network and saves
//   its parameters under their names (parameter names carry the network's prefix).
// - autoencoder_task<B, Model, Loss>: the plain autoencoder side - model(x), loss against x (or
//   the batch's target), backward into the model.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hourglass/core/tensor.hpp"
#include "hourglass/data/batch_loader.hpp"
#include "hourglass/data/host_batch.hpp"
#include "hourglass/layers/parameters.hpp"
#include "hourglass/ops/elementwise.hpp"
#include "hourglass/train/step_profile.hpp"

namespace hg::train {

struct side_source {
    std::string name;                 ///< names the side in logs and checkpoints ("a", "b", ...)
    data::sample_producer producer;   ///< writes sample i (see data/batch_loader.hpp)
    std::int64_t samples = 0;         ///< sample indices are [0, samples)
    std::int64_t height = 64, width = 64, channels = 3;
    std::int64_t mask_channels = 0;   ///< 0: batches without masks
};

template <class B>
class side_task {
public:
    virtual ~side_task() = default;
    /// The names of the loss terms compute() writes, in order (their sum is the side's loss).
    virtual std::vector<std::string> loss_terms() const { return {"loss"}; }
    /// Copies the host batch (views valid until the next batch) to the backend.
    virtual void upload(const data::batch& b) = 0;
    /// Forward, loss and backward of the uploaded batch: writes loss_terms().size() values into
    /// `loss` (a backend tensor) and adds into the parameter gradients. Marks forward, loss and
    /// backward on `profile` as it goes.
    virtual void compute(const tensor& loss, step_profile& profile) = 0;
};

template <class B>
struct side {
    side_source source;
    std::unique_ptr<side_task<B>> task;
};

template <class B>
struct network {
    std::string name;
    const parameters<B>* params = nullptr;
};

/// The plain autoencoder side: y = model(x); loss(y, target) with target = the batch's target
/// (x itself when the producer writes the input as its own target); backward into the model.
/// Loss is any loss object with forward(be, y, t, out) and backward(be, y, t, scale, dy) (losses/).
template <class B, class Model, class Loss>
class autoencoder_task final : public side_task<B> {
public:
    autoencoder_task(Model& m, Loss loss) : m_(m), loss_(std::move(loss)) {}

    void upload(const data::batch& b) override {
        auto& be = m_.backend();
        x_ = data::to_backend(be, b.input);
        t_ = data::to_backend(be, b.target);
    }

    void compute(const tensor& loss, step_profile& profile) override {
        auto& be = m_.backend();
        const tensor& y = m_.forward(x_);
        profile.mark(step_phase::forward);
        loss_.forward(be, y, t_, loss);
        profile.mark(step_phase::loss);
        if (!dy_.defined() || dy_.shape() != y.shape()) dy_ = be.empty(y.shape());
        ops::fill(be, dy_, 0.f);  // the loss's backward adds into dy
        loss_.backward(be, y, t_, 1.0, dy_);
        m_.backward(dy_);
        profile.mark(step_phase::backward);
    }

private:
    Model& m_;
    Loss loss_;
    tensor x_, t_, dy_;
};

}  // namespace hg::train
