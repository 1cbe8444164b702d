// GET /volumes is written as text without building a JSON document per volume; it must be the
// very text dumping that document gives, for any names, labels and options a client can send.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "services/api/volumes_routes.h"

namespace berth::api {
namespace {

TEST(VolumesListTextTest, TheWrittenTextIsTheDumpOfTheDocumentForAnyStrings) {
  volumes::VolumeInfo plain;
  plain.name = "data";
  plain.driver = "local";
  plain.mountpoint = "/var/lib/berth/volumes/data/_data";
  plain.createdAtNano = 1764633600123456789;
  volumes::VolumeInfo odd = plain;
  odd.name = "odd";
  odd.labels = {{"quote\"back\\slash", "tab\tnewline\ncontrol\x01"}, {"unicode", "\xc3\xa9t\xc3\xa9 \xe2\x9c\x93"}, {"", ""}};
  odd.options = {{"type", "tmpfs"}, {"o", "size=1m,uid=1000"}};
  std::string ascii;
  for (int c = 0; c < 128; ++c) ascii += static_cast<char>(c);
  odd.labels["every ascii character"] = ascii;
  for (const auto& all : std::vector<std::vector<volumes::VolumeInfo>>{{}, {plain}, {plain, odd, plain}}) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& v : all) list.push_back(volumeJson(v));
    EXPECT_EQ(volumesListText(all), nlohmann::json({{"Volumes", list}, {"Warnings", nullptr}}).dump());
  }
}

}  // namespace
}  // namespace berth::api
