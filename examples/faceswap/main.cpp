// hourglass-swap: train a face-swap autoencoder (one shared encoder, one decoder per identity),
// preview it, and swap faces with it. `hourglass-swap demo` trains on built-in synthetic faces;
// docs/faceswap.md describes every command. SIGINT and SIGTERM set the library's stop flag
// (hg::train::install_stop_signals) that the training cycle checks before each step: it then saves
// a checkpoint recording the stop and exits. First of all it makes its OpenMP threads spin only
// briefly before sleeping, so that training beside another busy program does not collapse
// (openmp_waits.hpp).
#include "cli.hpp"
#include "hourglass/train/signals.hpp"
#include "openmp_waits.hpp"

int main(int argc, char** argv) {
    faceswap::use_short_openmp_spin(argv);
    return faceswap::run_cli(argc, argv, &hg::train::install_stop_signals());
}
