// hourglass-swap's argument parsing: one function per command, each reading its options into the
// option structs of commands.hpp and printing what the command produced.
#include "cli.hpp"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "commands.hpp"

namespace faceswap {
namespace {

const char* usage =
    "usage:\n"
    "  hourglass-swap demo  [--out DIR] [--iterations N] [--seed S] [--device auto|cpu|cuda] [--threads T] [--profile]\n"
    "  hourglass-swap train --a DIR --b DIR --model DIR [--arch original|lightweight|dfaker|dfl-h128|slim|micro]\n"
    "                       [--mask] [--batch 16] [--iterations N] [--loss ssim,mse] [--optimizer adam] [--lr 5e-5]\n"
    "                       [--device auto|cpu|cuda] [--threads T] [--save-every 250] [--preview-every N] [--seed S]\n"
    "                       [--profile]\n"
    "  hourglass-swap swap  --model DIR --input DIR_OR_IMAGE --output DIR [--direction a2b|b2a] [--blend]\n"
    "                       [--boxes FILE]\n"
    "                       [--device auto|cpu|cuda] [--threads T]\n"
    "  hourglass-swap info  --model DIR\n"
    "(docs/faceswap.md describes every option)\n";

struct args {
    std::vector<std::string> v;
    std::size_t i = 0;
    bool done() const { return i >= v.size(); }
    std::string next() { return v[i++]; }
    std::string value(const std::string& opt) {
        if (done()) throw hg::value_error("option " + opt + " needs a value");
        return next();
    }
};

std::int64_t to_int(const std::string& opt, const std::string& s) {
    std::size_t n = 0;
    long long v = 0;
    try {
        v = std::stoll(s, &n);
    } catch (const std::exception&) {
        n = 0;
    }
    if (n != s.size() || s.empty()) throw hg::value_error("option " + opt + " needs an integer, got '" + s + "'");
    return v;
}

double to_double(const std::string& opt, const std::string& s) {
    std::size_t n = 0;
    double v = 0;
    try {
        v = std::stod(s, &n);
    } catch (const std::exception&) {
        n = 0;
    }
    if (n != s.size() || s.empty()) throw hg::value_error("option " + opt + " needs a number, got '" + s + "'");
    return v;
}

void print_line(const std::string& s) {
    std::printf("%s\n", s.c_str());
    std::fflush(stdout);
}

int demo_cli(args& a) {
    demo_options o;
    while (!a.done()) {
        const std::string opt = a.next();
        if (opt == "--out") o.out = a.value(opt);
        else if (opt == "--iterations") o.iterations = to_int(opt, a.value(opt));
        else if (opt == "--seed") o.seed = static_cast<std::uint64_t>(to_int(opt, a.value(opt)));
        else if (opt == "--device") o.device = a.value(opt);
        else if (opt == "--threads") o.threads = static_cast<int>(to_int(opt, a.value(opt)));
        else if (opt == "--profile") o.profile = true;
        else throw hg::value_error("demo: unknown option " + opt);
    }
    if (o.iterations < 0) throw hg::value_error("--iterations must be >= 1");
    const auto r = demo(o, print_line);
    std::printf("demo: %lld iterations of '%s' on the %s in %.1f s\n", static_cast<long long>(r.iterations),
                r.architecture.c_str(), r.device.c_str(), r.seconds);
    std::printf("preview:   %s\n(rows: held-out poses; columns: A, A reconstructed, A swapped to B, B, B reconstructed, B swapped to A)\n",
                r.preview.string().c_str());
    std::printf("loss plot: %s (red: A, blue: B)\n", r.loss_plot.string().c_str());
    std::printf("swap fidelity: mean SSIM %.4f between the A->B swaps and identity B rendered in A's held-out poses, faces only "
                "(unswapped A faces score %.4f)\n",
                r.fidelity, r.baseline);
    return 0;
}

int train_cli(args& a, const std::atomic<bool>* stop) {
    train_command_options o;
    bool iterations_given = false;
    while (!a.done()) {
        const std::string opt = a.next();
        o.given.push_back(opt);
        if (opt == "--a") o.a = a.value(opt);
        else if (opt == "--b") o.b = a.value(opt);
        else if (opt == "--model") o.model = a.value(opt);
        else if (opt == "--arch") o.train.architecture = a.value(opt);
        else if (opt == "--mask") o.train.mask = true;
        else if (opt == "--batch") o.train.batch = to_int(opt, a.value(opt));
        else if (opt == "--iterations") o.train.iterations = to_int(opt, a.value(opt)), iterations_given = true;
        else if (opt == "--loss") o.train.loss = split_list(a.value(opt));
        else if (opt == "--optimizer") o.train.optimizer = a.value(opt);
        else if (opt == "--lr") o.train.lr = to_double(opt, a.value(opt));
        else if (opt == "--device") o.device = a.value(opt);
        else if (opt == "--threads") o.threads = static_cast<int>(to_int(opt, a.value(opt)));
        else if (opt == "--save-every") o.train.save_every = to_int(opt, a.value(opt));
        else if (opt == "--preview-every") o.train.preview_every = to_int(opt, a.value(opt));
        else if (opt == "--seed") o.train.seed = static_cast<std::uint64_t>(to_int(opt, a.value(opt)));
        else if (opt == "--profile") o.train.profile = true;
        else throw hg::value_error("train: unknown option " + opt);
    }
    (void)iterations_given;
    if (o.a.empty() || o.b.empty() || o.model.empty()) throw hg::value_error("train needs --a, --b and --model");
    if (o.train.batch < 1 || o.train.iterations < 1 || o.train.save_every < 1 || o.train.preview_every < 0)
        throw hg::value_error("--batch, --iterations and --save-every must be >= 1, --preview-every >= 0");
    if (!(o.train.lr > 0) || !std::isfinite(o.train.lr)) throw hg::value_error("--lr must be positive and finite");
    train_command(o, stop, print_line);
    return 0;
}

int swap_cli(args& a) {
    swap_options o;
    while (!a.done()) {
        const std::string opt = a.next();
        if (opt == "--model") o.model = a.value(opt);
        else if (opt == "--input") o.input = a.value(opt);
        else if (opt == "--output") o.output = a.value(opt);
        else if (opt == "--direction") o.direction = a.value(opt);
        else if (opt == "--blend") o.blend = true;
        else if (opt == "--boxes") o.boxes = a.value(opt), o.blend = true;
        else if (opt == "--device") o.device = a.value(opt);
        else if (opt == "--threads") o.threads = static_cast<int>(to_int(opt, a.value(opt)));
        else throw hg::value_error("swap: unknown option " + opt);
    }
    if (o.model.empty() || o.input.empty() || o.output.empty())
        throw hg::value_error("swap needs --model, --input and --output");
    const auto n = swap_command(o, print_line);
    if (o.boxes.empty())
        std::printf("swapped %lld faces (%s) into %s\n", static_cast<long long>(n), o.direction.c_str(), o.output.string().c_str());
    else
        std::printf("pasted the swapped faces (%s) into %lld frames in %s\n", o.direction.c_str(), static_cast<long long>(n),
                    o.output.string().c_str());
    return 0;
}

int info_cli(args& a) {
    std::filesystem::path model;
    while (!a.done()) {
        const std::string opt = a.next();
        if (opt == "--model") model = a.value(opt);
        else throw hg::value_error("info: unknown option " + opt);
    }
    if (model.empty()) throw hg::value_error("info needs --model");
    info_command(model, print_line);
    return 0;
}

}  // namespace

int run_cli(int argc, char** argv, const std::atomic<bool>* stop) {
    args a;
    for (int i = 1; i < argc; ++i) a.v.emplace_back(argv[i]);
    if (a.done() || a.v[0] == "--help" || a.v[0] == "-h" || a.v[0] == "help") {
        std::fputs(usage, a.done() ? stderr : stdout);
        return a.done() ? 2 : 0;
    }
    const std::string command = a.next();
    try {
        if (command == "demo") return demo_cli(a);
        if (command == "train") return train_cli(a, stop);
        if (command == "swap") return swap_cli(a);
        if (command == "info") return info_cli(a);
        std::fprintf(stderr, "hourglass-swap: unknown command '%s'\n%s", command.c_str(), usage);
        return 2;
    } catch (const hg::value_error& e) {
        std::fprintf(stderr, "hourglass-swap %s: %s\n", command.c_str(), e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "hourglass-swap %s: %s\n", command.c_str(), e.what());
        return 1;
    }
}

}  // namespace faceswap
