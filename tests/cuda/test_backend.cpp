// CUDA backend basics on a real device: device query, stream, explicit host<->device copies,
// device checks, and the counter-based RNG giving the same stream as the CPU.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/hourglass.hpp"
#include "hourglass/ops/random.hpp"
#include "support/test_support.hpp"

TEST_CASE("cuda: device query reports the device") {
    REQUIRE(hg::cuda_device_count() >= 1);
    const hg::cuda_device_info info = hg::cuda_device_properties(0);
    CHECK(!info.name.empty());
    CHECK(info.major >= 7);
    CHECK(info.total_memory > 0);
    CHECK(hg::cuda_device_status().find("device 0") != std::string::npos);
    CHECK_THROWS_AS(hg::cuda_device_properties(hg::cuda_device_count() + 3), hg::cuda_error);
}

TEST_CASE("cuda: upload and download round-trip every element") {
    hg::cuda be;
    auto host = hg::test::random_tensor<float>(hg::shape{3, 5, 7, 11}, 11);
    const auto dev = be.to_device(host);
    CHECK(dev.device() == hg::device_kind::cuda);
    CHECK(dev.shape() == host.shape());
    auto back = be.to_host(dev);
    CHECK(back.device() == hg::device_kind::cpu);
    CHECK(std::memcmp(back.data(), host.data(), host.bytes()) == 0);
}

TEST_CASE("cuda: host access to a device tensor and wrong-device arguments throw") {
    hg::cuda be;
    const auto dev = be.empty(hg::shape{4});
    CHECK_THROWS_AS((void)dev[0], hg::device_error);
    CHECK_THROWS_AS(be.to_device(dev), hg::device_error);
    CHECK_THROWS_AS(be.to_host(hg::tensor::zeros(hg::shape{4})), hg::device_error);
    CHECK_THROWS_AS(hg::ops::fill_uniform(be, hg::tensor::zeros(hg::shape{4}), 1, 0, 0.f, 1.f), hg::device_error);
}

TEST_CASE("cuda: fill_uniform matches the CPU stream bit for bit") {
    hg::cuda be;
    hg::cpu host_be(1);
    for (std::int64_t n : {1, 3, 4, 5, 1000, 65537}) {
        CAPTURE(n);
        auto expected = hg::tensor::empty(hg::shape{n});
        hg::ops::fill_uniform(host_be, expected, 1234, 5, -2.f, 3.f);
        auto poisoned = hg::tensor::full(hg::shape{n}, std::numeric_limits<float>::quiet_NaN());
        auto dev = be.to_device(poisoned);
        hg::ops::fill_uniform(be, dev, 1234, 5, -2.f, 3.f);
        auto got = be.to_host(dev);
        REQUIRE(hg::test::all_finite(got));
        CHECK(std::memcmp(got.data(), expected.data(), expected.bytes()) == 0);
    }
}
