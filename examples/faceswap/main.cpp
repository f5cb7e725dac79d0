// hourglass-swap: train a face-swap autoencoder (one shared encoder, one decoder per identity),
// preview it, and swap faces with it. `hourglass-swap demo` trains on built-in synthetic faces;
// docs/faceswap.md describes every command. SIGINT and SIGTERM set the library's stop flag
// (hg::train::install_stop_signals) that the training cycle checks before each step: it then saves
// a checkpoint recording the stop and exits.
#include "cli.hpp"
#include "hourglass/train/signals.hpp"

int main(int argc, char** argv) { return faceswap::run_cli(argc, argv, &hg::train::install_stop_signals()); }
