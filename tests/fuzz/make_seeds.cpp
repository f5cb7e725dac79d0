// Writes the fuzzer's seed corpus into the folder given as argv[1]: tiny valid PNG (grey, grey +
// alpha, RGB, RGBA), JPEG (grey, colour), BMP (RGB, RGBA) and TGA (RLE and raw) files.
#include <cstdio>
#include <string>
#include <vector>

#include <stb_image_write.h>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_seeds <folder>\n");
        return 2;
    }
    const std::string dir = argv[1];
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
    if (!ok) {
        std::fprintf(stderr, "make_seeds: cannot write into %s\n", dir.c_str());
        return 1;
    }
    return 0;
}
