// The reference faces the alignment is computed against, as data tables.
//
// mean_face_2d: the 51-point 2-D mean face of landmarks 17..67 (brows, nose, eyes, mouth; the jaw
// is left out because its outline moves with the pose), in a unit square with x to the right and y
// down. Aligning a face means finding the similarity that maps the face's landmarks 17..67 onto
// these points. The numbers are faceswap's `_MEAN_FACE[LandmarkType.LM_2D_51]`
// (lib/align/constants.py), which are the same as DeepFaceLab's `landmarks_2D`; they are the
// compatibility target and must not be edited.
//
// mean_face_3d: faceswap's generic 3-D head model `_MEAN_FACE[LandmarkType.LM_3D_26]` (26 points in
// model units, x towards the left of the picture, y up, z towards the viewer; after the
// anthropometric model at aifi.isr.uc.pt/Downloads/OpenGL/glAnthropometric3DModel.cpp), used for
// the pose estimate, together with the 68-point landmark index each 3-D point corresponds to
// (`mean_face_3d_landmarks`, faceswap's PoseEstimate._solve_pnp selection).
#pragma once

#include <array>

namespace hg::face {

/// The first landmark index covered by mean_face_2d (landmarks 17..67, 51 points).
inline constexpr int mean_face_first_landmark = 17;
inline constexpr int mean_face_2d_count = 51;
inline constexpr int mean_face_3d_count = 26;

/// Row i is the mean position (x, y) of landmark 17 + i in the unit square.
inline constexpr std::array<std::array<double, 2>, mean_face_2d_count> mean_face_2d{{
    {0.010086, 0.106454}, {0.085135, 0.038915}, {0.191003, 0.018748}, {0.300643, 0.034489},
    {0.403270, 0.077391}, {0.596729, 0.077391}, {0.699356, 0.034489}, {0.808997, 0.018748},
    {0.914864, 0.038915}, {0.989913, 0.106454}, {0.500000, 0.203352}, {0.500000, 0.307009},
    {0.500000, 0.409805}, {0.500000, 0.515625}, {0.376753, 0.587326}, {0.435909, 0.609345},
    {0.500000, 0.628106}, {0.564090, 0.609345}, {0.623246, 0.587326}, {0.131610, 0.216423},
    {0.196995, 0.178758}, {0.275698, 0.179852}, {0.344479, 0.231733}, {0.270791, 0.245099},
    {0.192616, 0.244077}, {0.655520, 0.231733}, {0.724301, 0.179852}, {0.803005, 0.178758},
    {0.868389, 0.216423}, {0.807383, 0.244077}, {0.729208, 0.245099}, {0.264022, 0.780233},
    {0.350858, 0.745405}, {0.438731, 0.727388}, {0.500000, 0.742578}, {0.561268, 0.727388},
    {0.649141, 0.745405}, {0.735977, 0.780233}, {0.652032, 0.864805}, {0.566594, 0.902192},
    {0.500000, 0.909281}, {0.433405, 0.902192}, {0.347967, 0.864805}, {0.300252, 0.784792},
    {0.437969, 0.778746}, {0.500000, 0.785343}, {0.562030, 0.778746}, {0.699747, 0.784792},
    {0.563237, 0.824182}, {0.500000, 0.831803}, {0.436763, 0.824182},
}};

/// Row i is the 3-D model point (x, y, z) of landmark mean_face_3d_landmarks[i].
inline constexpr std::array<std::array<double, 3>, mean_face_3d_count> mean_face_3d{{
    {4.056931, -11.432347, 1.636229},   // chin, far left of the picture
    {1.833492, -12.542305, 4.061275},   // chin, left
    {0.0, -12.901019, 4.070434},        // chin, centre
    {-1.833492, -12.542305, 4.061275},  // chin, right
    {-4.056931, -11.432347, 1.636229},  // chin, far right
    {6.825897, 1.275284, 4.402142},     // right brow, outer end
    {1.330353, 1.636816, 6.903745},     // right brow, inner end
    {-1.330353, 1.636816, 6.903745},    // left brow, inner end
    {-6.825897, 1.275284, 4.402142},    // left brow, outer end
    {1.930245, -5.060977, 5.914376},    // nose, far left
    {0.746313, -5.136947, 6.263227},    // nose, left
    {0.0, -5.485328, 6.76343},          // nose, centre
    {-0.746313, -5.136947, 6.263227},   // nose, right
    {-1.930245, -5.060977, 5.914376},   // nose, far right
    {5.311432, 0.0, 3.987654},          // right eye, outer corner
    {1.78993, -0.091703, 4.413414},     // right eye, inner corner
    {-1.78993, -0.091703, 4.413414},    // left eye, inner corner
    {-5.311432, 0.0, 3.987654},         // left eye, outer corner
    {2.774015, -7.566103, 5.048531},    // mouth, left corner
    {0.509714, -7.056507, 6.566167},    // upper lip, left
    {0.0, -7.131772, 6.704956},         // upper lip, centre
    {-0.509714, -7.056507, 6.566167},   // upper lip, right
    {-2.774015, -7.566103, 5.048531},   // mouth, right corner
    {-0.589441, -8.443925, 6.109526},   // lower lip, right
    {0.0, -8.601736, 6.097667},         // lower lip, centre
    {0.589441, -8.443925, 6.109526},    // lower lip, left
}};

/// The 68-point landmark index of each row of mean_face_3d.
inline constexpr std::array<int, mean_face_3d_count> mean_face_3d_landmarks{
    6, 7, 8, 9, 10, 17, 21, 22, 26, 31, 32, 33, 34, 35, 36, 39, 42, 45, 48, 50, 51, 52, 54, 56, 57, 58};

}  // namespace hg::face
