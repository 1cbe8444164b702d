// Cap'n Proto Data and List(Text) to and from std::string: the one conversion every adapter
// and client uses (JSON documents and raw bytes travel as Data, names as Text).
#pragma once

#include <capnp/blob.h>
#include <capnp/list.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace berth::ipc {

// A Data field's bytes, copied.
inline std::string text(capnp::Data::Reader data) {
  return std::string(reinterpret_cast<const char*>(data.begin()), data.size());
}

// A Data field's bytes, borrowed from the message.
inline std::string_view textView(capnp::Data::Reader data) {
  return std::string_view(reinterpret_cast<const char*>(data.begin()), data.size());
}

// Bytes to set as a Data field; borrowed, so `s` must outlive the setter call.
inline kj::ArrayPtr<const kj::byte> bytes(std::string_view s) {
  return kj::arrayPtr(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}

inline std::vector<std::string> texts(capnp::List<capnp::Text>::Reader list) {
  std::vector<std::string> out;
  out.reserve(list.size());
  for (auto t : list) out.emplace_back(t.cStr(), t.size());
  return out;
}

// Fills a List(Text) built with initX(values.size()).
inline void setTexts(capnp::List<capnp::Text>::Builder out, const std::vector<std::string>& values) {
  for (size_t i = 0; i < values.size() && i < out.size(); ++i) out.set(static_cast<unsigned>(i), values[i]);
}

// A List of key/value structs (any struct with key and value Text fields) as a map, and back.
template <class KeyValueList>
std::map<std::string, std::string> keyValues(KeyValueList list) {
  std::map<std::string, std::string> out;
  for (auto kv : list) out[std::string(kv.getKey())] = std::string(kv.getValue());
  return out;
}

// Fills a key/value List built with initX(map.size()).
template <class KeyValueList>
void setKeyValues(KeyValueList out, const std::map<std::string, std::string>& map) {
  unsigned i = 0;
  for (const auto& [k, v] : map) {
    if (i >= out.size()) break;
    out[i].setKey(k);
    out[i].setValue(v);
    ++i;
  }
}

}  // namespace berth::ipc
