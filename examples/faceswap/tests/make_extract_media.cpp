// Writes the inputs of the extract and convert end-to-end check (extract_e2e.cmake), from the
// astronaut portrait of Debian's python3-skimage: <out>/moving.mp4 (16 frames, 640x360, H.264, the
// face moved through rotations of -20..20 degrees, scales 1..1.3 and shifts), <out>/moving_av.mp4
// (the same motion, 12 frames, with an AAC audio track), <out>/photos/ (three still pictures of the
// face in other poses, PNG and JPEG) and <out>/text.mp4 (a text file named like a video).
// `make_extract_media probe FILE` prints what a video holds: "frames N size WxH audio A".
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include "hourglass/data/image_io.hpp"
#include "hourglass/media/video.hpp"
#include "media/av_fixtures.hpp"
#include "media/moving_face.hpp"

int main(int argc, char** argv) {
    if (argc == 3 && std::string(argv[1]) == "probe") {
        try {
            hg::media::video_reader r(argv[2]);
            hg::media::video_frame f;
            long long n = 0;
            while (r.next(f)) ++n;
            std::printf("frames %lld size %lldx%lld audio %d\n", n, static_cast<long long>(r.info().width),
                        static_cast<long long>(r.info().height), r.info().audio_streams);
            return 0;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "probe: %s\n", e.what());
            return 1;
        }
    }
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUT_DIR | probe FILE\n", argv[0]);
        return 2;
    }
    try {
        namespace fs = std::filesystem;
        using namespace hg_test_media;
        const fs::path out = argv[1];
        fs::create_directories(out / "photos");
        const hg::tensor photo = hg::data::load_image(astronaut_path()).rgb;
        hg::media::video_write_options vo;
        vo.preset = "veryfast";
        hg::media::video_writer video(out / "moving.mp4", 640, 360, vo);
        for (const auto& p : moving_poses(16)) video.write(render(photo, p, 640, 360));
        video.finish();
        pose p;
        p.cx = 260;
        p.cy = 200;
        hg::data::save_png(out / "photos" / "front.png", render(photo, p, 520, 400));
        p.degrees = -10;
        p.scale = 1.2;
        hg::data::save_jpeg(out / "photos" / "tilted.jpg", render(photo, p, 520, 400), 92);
        p.degrees = 8;
        p.scale = 1.1;
        p.cx = 300;
        hg::data::save_png(out / "photos" / "right.png", render(photo, p, 520, 400));
        std::ofstream(out / "text.mp4") << "not a video, only text\n";
        hg_test_media::av_clip_options av;
        av.width = 640;
        av.height = 360;
        av.frames = 12;
        (void)hg_test_media::make_av_clip(out / "moving_av.mp4", av);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "make_extract_media: %s\n", e.what());
        return 1;
    }
}
