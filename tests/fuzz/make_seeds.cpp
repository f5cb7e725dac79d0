// Writes a fuzzer's seed corpus into a folder, through the library's own API where the library
// writes that kind of file:
//   make_seeds image DIR        tiny valid PNG (grey, grey + alpha, RGB, RGBA), JPEG (grey, colour),
//                               BMP (RGB, RGBA) and TGA (RLE and raw) files (stb_image_write, and
//                               PNGs from hg::data::encode_png)
//   make_seeds checkpoint DIR   checkpoints from hg::io::encode_checkpoint (empty, small, odd names)
//   make_seeds store DIR        inputs of store_load_fuzz: a 2-byte split point, then a current and
//                               a backup checkpoint (each valid, cut or missing)
//   make_seeds json DIR         JSON texts from hg::io::json::dump (checkpoint-like headers, nested
//                               values, escapes, numbers at the edges of double)
//   make_seeds alignments DIR   alignments files from hg::face::to_json (video and picture sources,
//                               faces, smoothed landmarks, dropped faces)
//   make_seeds video DIR        tiny videos from hg::media::video_writer (H.264 in MP4 and MKV, H.265,
//                               a variable frame rate); only when built with HG_FUZZ_MEDIA
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <stb_image_write.h>

#include "hourglass/data/image_io.hpp"
#include "hourglass/face/alignments.hpp"
#include "hourglass/io/checkpoint.hpp"
#include "hourglass/io/json.hpp"
#ifdef HG_FUZZ_MEDIA
#include "hourglass/media/video.hpp"
#endif

namespace {

bool write(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return static_cast<bool>(f);
}

hg::tensor ramp(const hg::shape& s, float scale) {
    hg::tensor t = hg::tensor::empty(s);
    for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = scale * float((i * 37) % 101) / 101.0f - 0.5f;
    return t;
}

hg::io::checkpoint sample(int variant) {
    hg::io::checkpoint c;
    c.header = hg::io::json::object();
    c.header.as_object().emplace_back("architecture", "original");
    c.header.as_object().emplace_back("iteration", variant * 1000);
    if (variant == 0) return c;
    c.tensors.emplace_back("encoder/conv0.w", ramp(hg::shape{3, 3, 3, 4}, 1.0f));
    c.tensors.emplace_back("encoder/conv0.b", ramp(hg::shape{4}, 0.1f));
    if (variant >= 2) c.tensors.emplace_back(std::string("odd\0name\n", 9), ramp(hg::shape{}, 2.0f));
    c.optimizer_state = std::string(static_cast<std::size_t>(variant * 8), char('a' + variant));
    return c;
}

int image_seeds(const std::string& dir) {
    const int w = 6, h = 5;
    std::vector<unsigned char> px(static_cast<std::size_t>(w * h * 4));
    for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<unsigned char>((i * 37 + 11) & 0xFF);
    int ok = 1;
    for (int comp = 1; comp <= 4; ++comp) {
        const std::string c = std::to_string(comp);
        ok &= stbi_write_png((dir + "/seed" + c + ".png").c_str(), w, h, comp, px.data(), w * comp);
    }
    ok &= stbi_write_jpg((dir + "/seed1.jpg").c_str(), w, h, 1, px.data(), 90);
    ok &= stbi_write_jpg((dir + "/seed3.jpg").c_str(), w, h, 3, px.data(), 90);
    ok &= stbi_write_bmp((dir + "/seed3.bmp").c_str(), w, h, 3, px.data());
    ok &= stbi_write_bmp((dir + "/seed4.bmp").c_str(), w, h, 4, px.data());
    ok &= stbi_write_tga((dir + "/seed_rle.tga").c_str(), w, h, 4, px.data());
    stbi_write_tga_with_rle = 0;
    ok &= stbi_write_tga((dir + "/seed_raw.tga").c_str(), w, h, 3, px.data());
    const hg::tensor rgb = ramp(hg::shape{h, w, 3}, 1.0f);
    const auto png = hg::data::encode_png(rgb);
    ok &= write(dir + "/library.png", std::string(png.begin(), png.end()));
    return ok ? 0 : 1;
}

int checkpoint_seeds(const std::string& dir) {
    bool ok = true;
    for (int v = 0; v < 3; ++v) ok &= write(dir + "/checkpoint" + std::to_string(v) + ".hgc", hg::io::encode_checkpoint(sample(v)));
    return ok ? 0 : 1;
}

int store_seeds(const std::string& dir) {
    auto split = [](const std::string& current, const std::string& backup) {
        std::string s;
        s += char(current.size() & 0xFF);
        s += char((current.size() >> 8) & 0xFF);
        return s + current + backup;
    };
    const std::string a = hg::io::encode_checkpoint(sample(1)), b = hg::io::encode_checkpoint(sample(2));
    bool ok = true;
    ok &= write(dir + "/both.bin", split(a, b));
    ok &= write(dir + "/cut_current.bin", split(a.substr(0, a.size() / 2), b));
    ok &= write(dir + "/no_backup.bin", split(a, ""));
    ok &= write(dir + "/no_current.bin", split("", b));
    return ok ? 0 : 1;
}

int json_seeds(const std::string& dir) {
    using hg::io::json;
    json doc = json::object();
    doc.as_object().emplace_back("name", "caf\xc3\xa9 \"quoted\" \\ \n\t\x01");
    doc.as_object().emplace_back("numbers", json::array({0, -1, 9007199254740993LL, 1.5, -2.25e-300, 1.7976931348623157e308,
                                                         4.9e-324, 0.1}));
    doc.as_object().emplace_back("flags", json::array({true, false, nullptr}));
    json nested = json::array();
    json* inner = &nested;
    for (int k = 0; k < 20; ++k) {
        inner->as_array().push_back(json::array());
        inner = &inner->as_array().back();
    }
    doc.as_object().emplace_back("nested", nested);
    bool ok = write(dir + "/doc.json", doc.dump());
    ok &= write(dir + "/header.json", sample(2).header.dump());
    ok &= write(dir + "/empty.json", json::object().dump());
    return ok ? 0 : 1;
}

int alignments_seeds(const std::string& dir) {
    hg::face::alignments a;
    a.source.as_object().emplace_back("kind", "video");
    a.source.as_object().emplace_back("frames", 2);
    a.complete = true;
    hg::face::frame_record f;
    f.index = 0;
    f.time = 0.04;
    hg::face::face_record face;
    face.file = "frame0_face0.png";
    face.box = {10, 20, 110, 120};
    face.score = 0.9;
    for (int i = 0; i < 68; ++i) {
        face.points(i, 0) = 30 + i;
        face.points(i, 1) = 40 + (i * 7) % 50;
    }
    face.detected = face.points;
    face.detected(3, 0) += 0.5;
    face.smoothed = true;
    face.blur = 123.5;
    f.faces.push_back(face);
    hg::face::dropped_record d;
    d.box = {0, 0, 8, 8};
    d.score = 0.2;
    d.reason = "small";
    f.dropped.push_back(d);
    a.frames.push_back(f);
    f.index = 1;
    f.faces.clear();
    a.frames.push_back(f);
    bool ok = write(dir + "/video.json", hg::face::to_json(a).dump());
    hg::face::alignments pictures;
    pictures.source.as_object().emplace_back("kind", "pictures");
    hg::face::frame_record p;
    p.file = "photo 1.jpg";
    p.width = 640;
    p.height = 480;
    pictures.frames.push_back(p);
    ok &= write(dir + "/pictures.json", hg::face::to_json(pictures).dump());
    return ok ? 0 : 1;
}

#ifdef HG_FUZZ_MEDIA
int video_seeds(const std::string& dir) {
    const int w = 16, h = 16;
    std::vector<std::uint8_t> rgb(static_cast<std::size_t>(w * h * 3));
    auto frame = [&](int t) {
        for (std::size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<std::uint8_t>((i * 7 + std::size_t(t) * 40) & 0xFF);
        return rgb.data();
    };
    struct variant {
        const char* name;
        const char* codec;
        bool vfr;
    };
    for (const variant v : {variant{"h264.mp4", "libx264", false}, variant{"h264.mkv", "libx264", false},
                            variant{"h265.mp4", "libx265", false}, variant{"vfr.mp4", "libx264", true}}) {
        hg::media::video_write_options o;
        o.codec = v.codec;
        o.preset = "ultrafast";
        o.crf = 40;
        if (v.vfr) o.time_base = hg::media::rational{1, 1000};
        hg::media::video_writer writer(dir + "/" + v.name, w, h, o);
        for (int t = 0; t < 3; ++t) {
            if (v.vfr)
                writer.write(frame(t), std::int64_t(t * t * 40 + t * 10));
            else
                writer.write(frame(t));
        }
        writer.finish();
    }
    return 0;
}
#endif

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: make_seeds image|checkpoint|store|json|alignments|video <folder>\n");
        return 2;
    }
    const std::string kind = argv[1], dir = argv[2];
    int rc = 2;
    try {
        if (kind == "image") rc = image_seeds(dir);
        else if (kind == "checkpoint") rc = checkpoint_seeds(dir);
        else if (kind == "store") rc = store_seeds(dir);
        else if (kind == "json") rc = json_seeds(dir);
        else if (kind == "alignments") rc = alignments_seeds(dir);
#ifdef HG_FUZZ_MEDIA
        else if (kind == "video") rc = video_seeds(dir);
#endif
        else std::fprintf(stderr, "make_seeds: unknown kind '%s'\n", kind.c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "make_seeds: %s\n", e.what());
        return 1;
    }
    if (rc == 1) std::fprintf(stderr, "make_seeds: cannot write into %s\n", dir.c_str());
    return rc;
}
