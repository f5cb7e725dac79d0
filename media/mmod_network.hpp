// Private to the media component: the MMOD face detector network type, the one dlib's
// mmod_human_face_detector.dat was trained with (dlib's dnn_mmod_face_detection example): three
// stride-2 5x5 convolutions (16, 32, 32 filters) as a downsampler, three 5x5 convolutions of 45
// filters, and a 9x9 single-filter detection layer, over a pyramid_down<6> image pyramid. A model
// file must match it exactly, or deserialisation fails (reported as "not a dlib MMOD network").
#pragma once

#include <dlib/dnn.h>

namespace hg::media::detail {

template <long filters, typename SUBNET>
using mmod_con5d = dlib::con<filters, 5, 5, 2, 2, SUBNET>;
template <long filters, typename SUBNET>
using mmod_con5 = dlib::con<filters, 5, 5, 1, 1, SUBNET>;
template <typename SUBNET>
using mmod_downsampler = dlib::relu<dlib::affine<mmod_con5d<
    32, dlib::relu<dlib::affine<mmod_con5d<32, dlib::relu<dlib::affine<mmod_con5d<16, SUBNET>>>>>>>>>;
template <typename SUBNET>
using mmod_rcon5 = dlib::relu<dlib::affine<mmod_con5<45, SUBNET>>>;
/// The detector network (loss_mmod over the layers above).
using mmod_net = dlib::loss_mmod<dlib::con<
    1, 9, 9, 1, 1,
    mmod_rcon5<mmod_rcon5<mmod_rcon5<mmod_downsampler<dlib::input_rgb_image_pyramid<dlib::pyramid_down<6>>>>>>>>;

}  // namespace hg::media::detail
