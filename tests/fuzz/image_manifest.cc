// What a pull reads from a registry before it downloads a layer (services/images/
// image_manifest.h): the manifest list's choice for linux/amd64, an image manifest's config
// and layer descriptors, the config's diff ids and the chain ids made of them; and what the
// API reads from a stored config (the image list's Created and Labels).
//
// Input: media type \0 manifest \0 image config. Refusals are invalid or notFound berth::Errors,
// or JSON type errors, which the RPC server and the router answer as invalid.
#include "common/digest.h"
#include "common/errors.h"
#include "common/json_text.h"
#include "services/api/images_routes.h"
#include "services/images/image_manifest.h"
#include "services/images/image_store.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

template <typename F>
void refusalsAllowed(F fn) {
  try {
    fn();
  } catch (const berth::Error& e) {
    if (e.kind() != berth::ErrorKind::invalid && e.kind() != berth::ErrorKind::notFound) {
      berth::fuzz::invariantBroken(std::string("refused as ") + e.what());
    }
  } catch (const nlohmann::json::type_error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parts = berth::fuzz::splitInput(data, size, 3);
  const std::string &mediaType = parts[0], &manifestText = parts[1], &configText = parts[2];
  const std::string reference = "registry.test/fuzz/app:1";

  refusalsAllowed([&] {
    auto doc = berth::parseJsonOrDiscarded(manifestText);
    if (!doc.is_object()) return;
    if (berth::images::isManifestList(mediaType, doc)) {
      berth::images::linuxAmd64Manifest(doc);
      return;
    }
    auto manifest = berth::images::readImageManifest(doc, reference);
    std::string id = "sha256:" + berth::sha256Hex(configText);
    auto diffIds = berth::images::configDiffIds(berth::parseJsonOrDiscarded(configText), id, manifest.layers.size(),
                                                reference);
    std::string chain;
    for (const auto& diff : diffIds) chain = berth::images::chainIdOf(chain, diff);
  });

  refusalsAllowed([&] {
    berth::images::ImageInfo info;
    info.id = "sha256:" + berth::sha256Hex(configText);
    info.configJson = configText;
    berth::api::imageSummaryJson(info).dump();
  });
  return 0;
}
