// The preview grid: faces side by side in labelled columns (for the face-swap trainer: A, A
// reconstructed, A swapped to B, B, ...), as an RGB picture [H, W, 3] in [0, 1] or a PNG file.
//
// Layout, for C columns of R rows of S x S faces and a gutter of g pixels:
//     width  W = C * S + (C + 1) * g
//     height H = header + R * S + (R + 1) * g
// The header is a white strip at the top holding the labels (black text); below it the faces sit
// on a grey (0.5) background, face (r, c) with its top-left pixel at
//     x = g + c * (S + g),   y = header + g + r * (S + g).
// Labels: text scale t = clamp(S / 64, 1, 3); each label is centred over its column's S pixels.
// A label wider than S is wrapped onto two lines at the last space that lets the first line fit;
// whatever is still too wide (a second line, or a label with no such space) is shortened with
// "..." to fit. preview_label_lines gives the lines. The header is
//     header = 2 * pad + L * text_height(t) + (L - 1) * t,   pad = 3 * t,
// where L (1 or 2) is the most lines any label needs (preview_header_height); a one-line label in
// a two-line header is centred vertically.
// Face values are clamped to [0, 1] (NaN drawn as 0).
//
// Errors: value_error for no columns or a negative gutter; shape_error, naming the column, for
// images that are not [R, S, S, 3] with R, S >= 1, or whose R or S differ from the first column's;
// device_error (naming the column) for images not on the CPU. write_preview_grid saves atomically
// (hg::io_error when the file cannot be written).
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/data/image_io.hpp"
#include "hourglass/viz/canvas.hpp"

namespace hg::viz {

/// One column of the grid: its header label and its faces, a host tensor [R, S, S, 3].
struct preview_column {
    std::string label;
    tensor images;
};

/// The text scale of the labels over S-pixel columns: clamp(S / 64, 1, 3).
inline std::int64_t preview_label_scale(std::int64_t face_size) { return std::clamp<std::int64_t>(face_size / 64, 1, 3); }

/// `label` laid out in lines no wider than max_width at `scale`: one line when it fits, else two
/// (wrapped at the last space that lets the first line fit), lines still too wide shortened with
/// "..." (as many characters kept as fit; just "..." cut by the column when even that is too wide).
inline std::vector<std::string> preview_label_lines(const std::string& label, std::int64_t max_width, std::int64_t scale) {
    const auto fits = [&](const std::string& t) { return canvas::text_width(t, scale) <= max_width; };
    const auto shorten = [&](std::string t) {
        if (fits(t)) return t;
        while (!t.empty() && !fits(t + "...")) t.pop_back();
        while (!t.empty() && t.back() == ' ') t.pop_back();
        return t + "...";
    };
    if (fits(label)) return {label};
    for (std::size_t cut = label.rfind(' '); cut != std::string::npos && cut > 0; cut = label.rfind(' ', cut - 1)) {
        const std::string first = label.substr(0, cut);
        if (fits(first)) {
            std::string rest = label.substr(cut + 1);
            rest.erase(0, rest.find_first_not_of(' '));
            return rest.empty() ? std::vector<std::string>{first} : std::vector<std::string>{first, shorten(rest)};
        }
    }
    return {shorten(label)};
}

/// Height in pixels of the header strip holding `lines` lines of labels at `scale`.
inline std::int64_t preview_header_height(std::int64_t lines, std::int64_t scale) {
    return 2 * 3 * scale + lines * canvas::text_height(scale) + (lines - 1) * scale;
}

/// Draws the labelled grid of `columns` (rules above) as a CPU tensor [H, W, 3].
inline tensor render_preview_grid(const std::vector<preview_column>& columns, std::int64_t gutter = 2) {
    if (columns.empty()) throw value_error("viz::render_preview_grid: no columns to draw");
    if (gutter < 0) throw value_error("viz::render_preview_grid: gutter " + std::to_string(gutter) + " is negative");
    std::int64_t rows = 0, size = 0;
    for (std::size_t c = 0; c < columns.size(); ++c) {
        const tensor& t = columns[c].images;
        const std::string name = "viz::render_preview_grid: column " + std::to_string(c) + " '" + columns[c].label + "'";
        if (!t.defined()) throw shape_error(name + " has no images (an undefined tensor)");
        const hg::shape& s = t.shape();
        if (s.rank() != 4 || s[3] != 3 || s[1] != s[2] || s[0] < 1 || s[1] < 1)
            throw shape_error(name + ": expected images [R, S, S, 3] with R, S >= 1, got " + s.str());
        if (!t.on_cpu()) throw device_error(name + ": the images must be a CPU tensor; download them first");
        if (c == 0) {
            rows = s[0], size = s[1];
        } else if (s[0] != rows || s[1] != size) {
            throw shape_error(name + " has images " + s.str() + " but column 0 '" + columns[0].label + "' has " +
                              columns[0].images.shape().str() + " (all columns need the same R and S)");
        }
    }
    const std::int64_t cols = static_cast<std::int64_t>(columns.size());
    const std::int64_t scale = preview_label_scale(size);
    std::vector<std::vector<std::string>> labels;
    std::int64_t lines = 1;
    for (const auto& c : columns) {
        labels.push_back(preview_label_lines(c.label, size, scale));
        lines = std::max(lines, static_cast<std::int64_t>(labels.back().size()));
    }
    const std::int64_t header = preview_header_height(lines, scale);
    const std::int64_t width = cols * size + (cols + 1) * gutter, height = header + rows * size + (rows + 1) * gutter;
    if (width > 65535 || height > 65535)
        throw value_error("viz::render_preview_grid: the grid would be " + std::to_string(width) + " x " +
                          std::to_string(height) + " pixels, more than 65535 per side");

    canvas cv(width, height, colours::grey);
    cv.fill_rect(0, 0, width, header, colours::white);
    for (std::int64_t c = 0; c < cols; ++c) {
        const std::int64_t x = gutter + c * (size + gutter);
        const auto& text = labels[static_cast<std::size_t>(c)];
        cv.clip(x, 0, size, header);
        const std::int64_t line_h = canvas::text_height(scale) + scale;
        const std::int64_t y = 3 * scale + (lines - static_cast<std::int64_t>(text.size())) * line_h / 2;
        for (std::size_t l = 0; l < text.size(); ++l)
            cv.text(x + (size - canvas::text_width(text[l], scale)) / 2, y + static_cast<std::int64_t>(l) * line_h,
                    text[l], colours::black, scale);
        cv.unclip();
        const tensor& images = columns[static_cast<std::size_t>(c)].images;
        for (std::int64_t r = 0; r < rows; ++r) cv.paste(x, header + gutter + r * (size + gutter), images.batch_slice(r, 1));
    }
    return cv.image();
}

/// render_preview_grid saved as a PNG file (atomically).
inline void write_preview_grid(const std::filesystem::path& png, const std::vector<preview_column>& columns,
                               std::int64_t gutter = 2) {
    data::save_png(png, render_preview_grid(columns, gutter));
}

}  // namespace hg::viz
