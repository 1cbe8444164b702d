// common/json_text on arbitrary text: the depth check that runs before every parse, parseJson
// (whose contract is a value or an invalid berth::Error, nothing else) and parseJsonOrDiscarded
// (the same verdict, without the exception), and what callers do next with a parsed value:
// dump it (recursive: the depth bound is what keeps it off the end of the stack) and read it
// back.
#include "common/errors.h"
#include "common/json_text.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using berth::fuzz::invariantBroken;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  bool deep = berth::nestsTooDeep(text);
  nlohmann::json value;
  bool parsed = false;
  try {
    value = berth::parseJson(text);
    parsed = true;
  } catch (const berth::Error& e) {
    if (e.kind() != berth::ErrorKind::invalid) invariantBroken(std::string("parseJson refused with a kind other than invalid: ") + e.what());
  }
  if (parsed && deep) invariantBroken("parseJson accepted a text nested deeper than kMaxJsonDepth");
  if (berth::parseJsonOrDiscarded(text).is_discarded() == parsed) {
    invariantBroken("parseJson and parseJsonOrDiscarded disagree");
  }
  if (parsed) {
    std::string dumped = value.dump();
    auto again = berth::parseJsonOrDiscarded(dumped);
    if (again.is_discarded()) invariantBroken("a parsed value dumps to text that does not parse: " + dumped.substr(0, 64));
  }
  return 0;
}
