// Sha256 against digests computed elsewhere: FIPS 180-2's examples, and coreutils' sha256sum of
// a buffer fed in pieces that do not line up with the 64-byte blocks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>

#include "common/digest.h"
#include "tests/support/process.h"

namespace berth {
namespace {

TEST(DigestTest, TheStandardsExamplesHashToTheirPublishedDigests) {
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 h;
  h.update("abc", 3);
  EXPECT_EQ(h.digest(), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(DigestTest, PiecesOfAnySizeHashAsSha256sumHashesTheWhole) {
  std::string data(3 << 20, '\0');
  uint32_t x = 2463534242u;
  for (auto& c : data) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    c = static_cast<char>(x);
  }
  test::TempDir dir;
  std::string path = dir.path() + "/data";
  std::ofstream(path, std::ios::binary) << data;
  auto sum = test::run({"sha256sum", path});
  ASSERT_EQ(sum.exitCode, 0) << sum.err;
  std::string expected = sum.out.substr(0, 64);
  Sha256 h;
  size_t off = 0;
  for (size_t piece = 1; off < data.size(); piece = piece * 3 + 7) {
    size_t n = std::min(piece, data.size() - off);
    h.update(data.data() + off, n);
    off += n;
  }
  EXPECT_EQ(h.hex(), expected);
  EXPECT_EQ(sha256Hex(data), expected);
}

}  // namespace
}  // namespace berth
