// Every JSON text that enters a berth process (request bodies, filters, registry manifests and
// configs, archive manifests, records, IPC payloads) is parsed through these: nlohmann's parser
// is iterative, but copying or dump()ing a document recurses once per level, so a body of a
// million '[' would exhaust a thread's stack in whichever process touches it next. A document
// nesting deeper than kMaxJsonDepth is refused before it is parsed.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace berth {

// Far beyond any document Docker defines (image configs and create bodies nest under ten
// levels); small enough that recursion over it costs a few hundred KiB of stack at most.
constexpr int kMaxJsonDepth = 128;

// Whether `text` opens more than `maxDepth` objects or arrays inside one another (brackets in
// strings do not count). Linear, no allocation.
bool nestsTooDeep(std::string_view text, int maxDepth = kMaxJsonDepth);

// json::parse(text); throws Error(invalid, "invalid JSON: …") when the text is malformed or
// nests too deep.
nlohmann::json parseJson(std::string_view text);

// json::parse(text, nullptr, false): a discarded value when the text is malformed or nests too
// deep.
nlohmann::json parseJsonOrDiscarded(std::string_view text);

// The members of `object` whose values are strings (labels, options), as a map; other members,
// and anything that is not an object, are left out. For documents berth wrote or a service
// already checked: a request body's map is checked where it enters, with dockerd's refusals.
std::map<std::string, std::string> stringEntries(const nlohmann::json& object);

}  // namespace berth
