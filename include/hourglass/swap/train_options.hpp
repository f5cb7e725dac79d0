// hg::swap::train_options: everything that configures the training of a face-swap model
// (hg::swap::trainer): the architecture, the loss terms and mask weighting, the optimizer, the
// batch, the stop criteria (hg::train::stop_criteria), checkpoint and preview intervals, seeds,
// the learning-rate schedule and augmentation (set together by a preset, swap/recipe.hpp), the
// hold-out share and the timelapse folder. The command line of hourglass-swap fills one of these; a
// program linking the library can too. The field defaults are faceswap's (the 'classic' preset);
// `train` applies the budget's preset on top of them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "hourglass/data/augment.hpp"
#include "hourglass/data/augmented_producer.hpp"
#include "hourglass/dist/communicator.hpp"
#include "hourglass/train/stop_criteria.hpp"

namespace hg::swap {

struct train_options {
    std::string architecture = "original";          ///< architecture_names() lists them
    bool mask = false;                              ///< learned mask head (a fourth output channel)
    std::int64_t batch = 16;                        ///< faces per side and iteration
    /// When training stops: by default after 100000 iterations; any combination of iterations,
    /// epochs, a loss target and a time limit, whichever comes first.
    train::stop_criteria stop = [] {
        train::stop_criteria s;
        s.iterations = 100000;
        return s;
    }();
    std::vector<std::string> loss = {"ssim", "mse"};  ///< loss terms, summed (ssim, dssim, mse, mae, log_cosh)
    std::string optimizer = "adam";                 ///< adam, adamw, adabelief, rmsprop, lion, nadam, adamax
    std::string preset = "classic";                 ///< the preset that set lr..augment_ramp (recipe.hpp)
    double lr = 5e-5;
    std::int64_t warmup = 0;                        ///< iterations of linear learning-rate warmup
    std::int64_t cosine_steps = 0;                  ///< > 0: cosine decay of lr to lr * final_lr_factor, ending here
    double final_lr_factor = 0.1;
    data::augment_config augment;                   ///< the augmentation of training faces (faceswap's defaults)
    data::augment_ramp augment_ramp;                ///< the augmentation's strength ramp (none: full at once)
    double holdout = 0;                             ///< percent of each side's faces kept out of training (holdout.hpp)
    std::int64_t save_every = 250;                  ///< iterations between checkpoints
    std::int64_t preview_every = 0;                 ///< 0: at every save
    std::uint64_t seed = 1;                         ///< model initialisation; the loaders' seeds derive from it
    int loader_threads = 2;
    double eye_multiplier = 3.0, mouth_multiplier = 2.0;  ///< loss weight of the eye and mouth regions
    double mask_weight = 1.0;                       ///< weight of the mask head's loss (MSE against the face mask)
    bool profile = false;                           ///< time each phase of an iteration (train/step_profile.hpp)
    bool profile_layers = false;                    ///< with profile: also time each layer (layers/layer_profile.hpp)
    bool plot_log_scale = false;                    ///< loss.png with a logarithmic loss axis
    std::filesystem::path tensorboard_dir;          ///< non-empty: TensorBoard event files there (train/cycle.hpp)
    std::int64_t tensorboard_every = 1;             ///< iterations between TensorBoard scalars
    std::filesystem::path timelapse_dir;            ///< non-empty: every preview also saved there as <iteration>.png
    /// Data-parallel training (train/cycle.hpp): the ranks that train together, batch being the
    /// global batch per side; empty: this process alone. Not stored in checkpoints.
    std::shared_ptr<dist::communicator> comm;
};

}  // namespace hg::swap
