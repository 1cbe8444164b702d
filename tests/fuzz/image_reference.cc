// Image references as every image operation reads them (pull, push, tag, run, load's RepoTags,
// build's --tag): parseReference, whose contract is a Reference or an invalid berth::Error,
// and the forms derived from it. A reference that parses reads back as itself: its familiar
// form parses to the same name, tag and digest (dockerd shows and stores that form). The one
// exception is Docker's own: "docker.io/example.com/app" is the repository example.com/app on
// Docker Hub, and its familiar form "example.com/app" names another registry (distribution's
// FamiliarString does the same), so references naming docker.io explicitly are not read back.
#include "common/errors.h"
#include "common/image_reference.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using berth::fuzz::invariantBroken;
  std::string text(reinterpret_cast<const char*>(data), size);
  berth::images::isFullImageId(text);
  berth::images::isIdPrefix(text);
  for (const std::string defaultTag : {"latest", ""}) {
    berth::images::Reference ref;
    try {
      ref = berth::images::parseReference(text, defaultTag);
    } catch (const berth::Error& e) {
      if (e.kind() != berth::ErrorKind::invalid) invariantBroken(std::string("refused with a kind other than invalid: ") + e.what());
      continue;
    }
    std::string familiar = ref.familiar();
    ref.domain();
    ref.path();
    std::string first = text.substr(0, text.find('/'));
    if (text.find('/') != std::string::npos && (first == "docker.io" || first == "index.docker.io")) continue;
    berth::images::Reference again;
    try {
      again = berth::images::parseReference(familiar, defaultTag);
    } catch (const berth::Error& e) {
      invariantBroken("\"" + text + "\" parses, but its familiar form \"" + familiar + "\" does not: " + e.what());
    }
    if (again.name != ref.name || again.tag != ref.tag || again.digest != ref.digest) {
      invariantBroken("\"" + text + "\" reads back as \"" + again.familiar() + "\", not \"" + familiar + "\"");
    }
  }
  return 0;
}
