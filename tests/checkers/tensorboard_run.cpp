// hg_tensorboard_run OUT: a short real training run of the library's cycle with TensorBoard
// logging, for tests/checkers/read_tensorboard.py. Trains the face-swap model 'micro' with a mask
// head (two loss terms per side) on synthetic faces for 6 iterations, a preview every 3, TensorBoard
// scalars every 2, into OUT/model (losses.csv, preview_<N>.png) and OUT/tb (the event file), and
// writes OUT/scalars.json: what the trainer logged, read after every logged iteration from the
// cycle's and the optimizers' public accessors - [{"step", "tag", "value"}, ...], values as floats.
// iterations_per_second is taken from the cycle's own record (only the cycle holds its clock).
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/swap_fixtures.hpp"
#include "hourglass/hourglass.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: hg_tensorboard_run OUT\n");
        return 2;
    }
    try {
        const std::filesystem::path out = argv[1];
        constexpr std::int64_t every = 2;
        hg::cpu be(1);
        auto o = hg::test::micro_options(true, 6);
        o.preview_every = 3;
        o.tensorboard_dir = out / "tb";
        o.tensorboard_every = every;
        using trainer = hg::swap::trainer<hg::cpu, hg::swap::micro, true>;
        trainer tr(be, o, hg::test::synthetic_side(0, 1), hg::test::synthetic_side(1, 2), out / "model");
        const auto networks = trainer::model_type::network_names();
        hg::io::json logged = hg::io::json::array();
        auto add = [&](const std::string& tag, double v) {
            hg::io::json row = hg::io::json::object();
            row["step"] = tr.iteration();
            row["tag"] = tag;
            row["value"] = static_cast<double>(static_cast<float>(v));
            logged.push_back(std::move(row));
        };
        tr.run(nullptr, [&] {
            if (tr.iteration() % every != 0) return;
            const auto& c = tr.cycle();
            for (std::size_t s = 0; s < c.side_count(); ++s) {
                const std::string side = "loss/" + c.side_name(s);
                add(side, hg::train::log_value(c.last_loss(s)));  // the value losses.csv holds
                const auto terms = c.last_loss_terms(s);
                add(side + "/face", terms.at(0));
                add(side + "/mask", terms.at(1));
            }
            add("learning_rate", tr.optimizer(0).last_lr());
            for (std::size_t i = 0; i < networks.size(); ++i) add("grad_norm/" + networks[i], tr.optimizer(i).last_grad_norm());
            for (const auto& [tag, v] : c.tensorboard_scalars())
                if (tag == "iterations_per_second") add(tag, v);
        });
        std::ofstream f(out / "scalars.json");
        f << logged.dump() << '\n';
        f.close();
        if (!f) throw hg::io_error("cannot write " + (out / "scalars.json").string());
        std::printf("trained %lld iterations; events in %s\n", static_cast<long long>(tr.iteration()),
                    tr.cycle().tensorboard_file().string().c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "hg_tensorboard_run: %s\n", e.what());
        return 1;
    }
}
