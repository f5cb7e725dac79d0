// hg::train::loss_log: the loss log of a training run (losses.csv in the model folder): one line
// per applied iteration, "iteration,loss_<side>,...", values printed with 9 significant digits
// (%.9g: a float's value exactly; the sides' losses are sums of float terms). The first line is a
// header naming the columns; readers skip any line that does not parse as numbers, so logs written
// without a header read the same. log_value(v) is the value the log holds for v: the cycle's loss
// target reads these, so a run resumed from its log sees exactly the numbers an uninterrupted run
// saw.
//
// cut(iteration) keeps the rows up to `iteration` and drops the rest (steps that a resume or a
// roll-back is about to repeat); it rewrites the file atomically (temporary file + rename).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/data/image_io.hpp"

namespace hg::train {

/// One row of the loss log.
struct loss_row {
    std::int64_t iteration = 0;
    std::vector<double> losses;  ///< one per side
};

/// v printed as the log prints it.
inline std::string format_loss(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

/// The value the loss log holds for v (v rounded to 9 significant digits).
inline double log_value(double v) { return std::strtod(format_loss(v).c_str(), nullptr); }

/// The rows of a loss log with `sides` loss columns (lines that do not parse are skipped; a
/// missing file gives no rows). sides = 0: as many columns as the first data line has.
inline std::vector<loss_row> read_loss_log(const std::filesystem::path& csv, std::size_t sides = 0) {
    std::vector<loss_row> rows;
    std::ifstream in(csv);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        std::stringstream fields(line);
        std::string field;
        loss_row r;
        bool ok = static_cast<bool>(std::getline(fields, field, ','));
        if (ok) {
            char* end = nullptr;
            r.iteration = std::strtoll(field.c_str(), &end, 10);
            ok = end && *end == '\0' && !field.empty();
        }
        while (ok && std::getline(fields, field, ',')) {
            char* end = nullptr;
            const double v = std::strtod(field.c_str(), &end);
            ok = end && *end == '\0' && !field.empty();
            r.losses.push_back(v);
        }
        if (!ok || r.losses.empty()) continue;
        if (sides == 0) sides = r.losses.size();
        if (r.losses.size() != sides) continue;
        rows.push_back(std::move(r));
    }
    return rows;
}

class loss_log {
public:
    loss_log() = default;
    loss_log(std::filesystem::path csv, std::vector<std::string> side_names)
        : path_(std::move(csv)), names_(std::move(side_names)) {}

    const std::filesystem::path& path() const { return path_; }

    /// Appends one row (opening the file on first use, with the header line when it is new).
    void append(std::int64_t iteration, const std::vector<double>& losses) {
        if (losses.size() != names_.size())
            throw value_error("loss_log: " + std::to_string(losses.size()) + " losses for " +
                              std::to_string(names_.size()) + " sides");
        if (!out_.is_open()) {
            const bool fresh = !std::filesystem::exists(path_) || std::filesystem::file_size(path_) == 0;
            out_.open(path_, std::ios::app);
            if (!out_) throw io_error("loss log: cannot open " + path_.string() + " for writing");
            if (fresh) out_ << header() << '\n';
        }
        out_ << iteration;
        for (double v : losses) out_ << ',' << format_loss(v);
        out_ << '\n';
    }

    void flush() {
        if (out_.is_open()) {
            out_.flush();
            if (!out_) throw io_error("loss log: writing " + path_.string() + " failed (disk full?)");
        }
    }

    /// The rows with iteration <= `iteration`, read without changing the file (a data-parallel
    /// rank other than 0, which never writes the log, refills its loss window from them).
    std::vector<loss_row> rows_until(std::int64_t iteration) const {
        auto rows = read_loss_log(path_, names_.size());
        std::erase_if(rows, [&](const loss_row& r) { return r.iteration > iteration; });
        return rows;
    }

    /// Keeps the rows with iteration <= `iteration`, drops the others; returns the kept rows.
    std::vector<loss_row> cut(std::int64_t iteration) {
        if (out_.is_open()) out_.close();
        auto kept = rows_until(iteration);
        std::string text = header() + "\n";
        for (const auto& r : kept) {
            // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive) on "," + string&&.
            text += std::to_string(r.iteration);
            for (double v : r.losses) {
                text += ',';
                text += format_loss(v);
            }
            text += '\n';
        }
        data::write_file_atomic(path_, std::vector<unsigned char>(text.begin(), text.end()));
        return kept;
    }

    std::string header() const {
        std::string h = "iteration";
        for (const auto& n : names_) {
            h += ",loss_";
            h += n;
        }
        return h;
    }

private:
    std::filesystem::path path_;
    std::vector<std::string> names_;
    std::ofstream out_;
};

}  // namespace hg::train
