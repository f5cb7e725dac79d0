// faceswap_convert_grid: the picture grid of docs/convert.md (scripts/convert-grid.sh runs it).
//
//   faceswap_convert_grid PICTURE OUT.png [WORK_DIR]
//
// Extracts the face of PICTURE (the astronaut portrait of Debian's python3-skimage) with the real
// extraction (hg::media::extract_faces: dlib detection, 68 landmarks, alignment), then converts
// the picture through the real convert code (hg::swap::frame_converter) under every colour mode,
// every paste mask, seamless blending, sharpening, erosion and feathering, and lays the face's
// neighbourhood of each result out as one labelled grid (hg::viz::canvas).
//
// The "model" is not a trained network: it returns its input face mirrored left to right and
// colour-shifted (warmer, brighter, lower contrast), so that the swap is visibly different from the
// frame (the mirrored hair parting and flag patch show where the paste reaches; the colour shift
// shows what each colour mode takes out) while the picture stays sharp. Its fourth channel, the
// "learned" mask, is the feathered ellipse that `swap --blend` uses for models without a mask head
// (swap/paste.hpp): a stand-in that shows how a model's mask is applied, not what a trained mask
// head predicts.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "hourglass/data/image_io.hpp"
#include "hourglass/data/resize.hpp"
#include "hourglass/face/alignments.hpp"
#include "hourglass/media/extract.hpp"
#include "hourglass/swap/convert.hpp"
#include "hourglass/swap/paste.hpp"
#include "hourglass/viz/canvas.hpp"

namespace {

namespace fs = std::filesystem;
using hg::shape;
using hg::tensor;

constexpr std::int64_t face_size = 256;  // model input and output size (the extraction's size)
constexpr std::int64_t cell = 150;       // pixels per grid picture
constexpr std::int64_t label_h = 14;
constexpr std::int64_t gap = 4;

/// The stand-in model: mirrored, colour-shifted input; fourth channel the elliptical mask.
tensor mirrored_tint(const tensor& faces) {
    const std::int64_t n = faces.shape()[0], s = faces.shape()[1];
    const tensor ellipse = hg::swap::elliptical_mask(s, s);
    tensor out = tensor::empty(shape{n, s, s, 4});
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t y = 0; y < s; ++y)
            for (std::int64_t x = 0; x < s; ++x) {
                const float* p = faces.data() + ((i * s + y) * s + (s - 1 - x)) * 3;
                float* q = out.data() + ((i * s + y) * s + x) * 4;
                q[0] = std::min(1.0f, 0.30f + 0.75f * p[0]);
                q[1] = std::min(1.0f, 0.12f + 0.70f * p[1]);
                q[2] = std::min(1.0f, 0.02f + 0.60f * p[2]);
                q[3] = ellipse.data()[y * s + x];
            }
    return out;
}

/// The square of the frame around the face (1.9 times its detector box), resized to the cell.
tensor face_view(const tensor& frame, const hg::face::face_record& f) {
    const double cx = 0.5 * (f.box[0] + f.box[2]), cy = 0.5 * (f.box[1] + f.box[3]);
    const double half = 0.95 * std::max(f.box[2] - f.box[0], f.box[3] - f.box[1]);
    const std::int64_t h = frame.shape()[0], w = frame.shape()[1];
    std::int64_t side = static_cast<std::int64_t>(2 * half);
    side = std::min({side, h, w});
    const std::int64_t x0 = std::clamp<std::int64_t>(static_cast<std::int64_t>(cx - half), 0, w - side);
    const std::int64_t y0 = std::clamp<std::int64_t>(static_cast<std::int64_t>(cy - half), 0, h - side);
    tensor crop = tensor::empty(shape{side, side, 3});
    for (std::int64_t y = 0; y < side; ++y)
        std::copy_n(frame.data() + ((y0 + y) * w + x0) * 3, side * 3, crop.data() + y * side * 3);
    return hg::data::resize_area(crop, cell, cell);
}

struct entry {
    std::string label;
    hg::swap::convert_options options;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3 || argc > 4) {
        std::fprintf(stderr, "usage: %s PICTURE OUT.png [WORK_DIR]\n", argv[0]);
        return 2;
    }
    try {
        const fs::path picture = argv[1], out = argv[2];
        const fs::path work = argc == 4 ? fs::path(argv[3]) : fs::temp_directory_path() / "hg_convert_grid";
        fs::remove_all(work / "faces");
        fs::create_directories(work);
        hg::media::extract_options eo;
        eo.input = picture;
        eo.output = work / "faces";
        eo.align.size = face_size;
        const auto summary = hg::media::extract_faces(eo);
        const auto alignments = hg::face::read_alignments(summary.alignments_file);
        if (alignments.frames.empty() || alignments.frames[0].faces.empty())
            throw hg::value_error("no face was found in " + picture.string());
        const auto& faces = alignments.frames[0].faces;
        hg::data::image img = hg::data::load_image(picture);
        tensor frame = img.rgb;

        // Row by row: the colour modes (extended mask, feathered), the masks (rct), the extras.
        std::vector<std::vector<entry>> rows(3);
        auto base = [] {
            hg::swap::convert_options o;
            o.blur = 6;
            return o;
        };
        for (const auto mode : {hg::face::color_mode::none, hg::face::color_mode::avg, hg::face::color_mode::rct,
                                hg::face::color_mode::lct, hg::face::color_mode::hist}) {
            auto o = base();
            o.color = mode;
            rows[0].push_back({"color " + std::string(hg::face::to_string(mode)), o});
        }
        for (const auto mask : {hg::swap::paste_mask::components, hg::swap::paste_mask::extended, hg::swap::paste_mask::learned,
                                hg::swap::paste_mask::box}) {
            auto o = base();
            o.mask = mask;
            rows[1].push_back({"mask " + hg::swap::to_string(mask), o});
        }
        {
            auto o = base();
            o.blur = 0;
            rows[1].push_back({"blur 0 (hard)", o});
        }
        {
            auto o = base();
            o.seamless = true;
            rows[2].push_back({"seamless", o});
            o = base();
            o.mask = hg::swap::paste_mask::box;
            o.seamless = true;
            rows[2].push_back({"box + seamless", o});
            o = base();
            o.sharpen = 1.0;
            o.sharpen_sigma = 1.5;
            rows[2].push_back({"sharpen 1", o});
            o = base();
            o.erode = 12;
            rows[2].push_back({"erode 12", o});
            o = base();
            o.erode = -12;
            o.blur = 16;
            rows[2].push_back({"erode -12 blur 16", o});
        }
        const std::int64_t cols = 6;  // the frame itself first, then five results per row
        const std::int64_t width = cols * cell + (cols + 1) * gap, height = 3 * (cell + label_h) + 4 * gap;
        hg::viz::canvas c(width, height, hg::viz::colours::white);
        auto put = [&](std::int64_t row, std::int64_t col, const tensor& picture_view, const std::string& label) {
            const std::int64_t x = gap + col * (cell + gap), y = gap + row * (cell + label_h + gap);
            c.text(x + 2, y + 2, label, hg::viz::colours::black);
            c.paste(x, y + label_h, picture_view);
        };
        put(0, 0, face_view(frame, faces[0]), "frame");
        {
            hg::swap::convert_options o = base();
            o.color = hg::face::color_mode::none;
            o.mask = hg::swap::paste_mask::box;
            o.blur = 0;
            const hg::swap::frame_converter conv(o, face_size, face_size, face_size, true, mirrored_tint);
            put(1, 0, face_view(conv.convert(frame, faces), faces[0]), "swap: box, none");
        }
        {
            // What the model returns for the aligned face (its colour channels).
            const tensor crop = hg::face::warp_to_crop(frame, faces[0].matrix, face_size);
            const tensor swapped = mirrored_tint(crop.view(shape{1, face_size, face_size, 3}));
            tensor rgb = tensor::empty(shape{face_size, face_size, 3});
            for (std::int64_t q = 0; q < face_size * face_size; ++q)
                for (int ch = 0; ch < 3; ++ch) rgb.data()[q * 3 + ch] = swapped.data()[q * 4 + ch];
            put(2, 0, hg::data::resize_area(rgb, cell, cell), "model output");
        }
        for (std::size_t r = 0; r < rows.size(); ++r)
            for (std::size_t k = 0; k < rows[r].size(); ++k) {
                const hg::swap::frame_converter conv(rows[r][k].options, face_size, face_size, face_size, true, mirrored_tint);
                put(static_cast<std::int64_t>(r), static_cast<std::int64_t>(k) + 1, face_view(conv.convert(frame, faces), faces[0]),
                    rows[r][k].label);
            }
        if (out.has_parent_path()) fs::create_directories(out.parent_path());
        hg::data::save_png(out, c.image());
        std::printf("wrote %s (%lldx%lld)\n", out.string().c_str(), static_cast<long long>(width), static_cast<long long>(height));
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "faceswap_convert_grid: %s\n", e.what());
        return 1;
    }
}
