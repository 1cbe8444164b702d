#include "services/api/detach_keys.h"

#include <utility>

#include "common/errors.h"

namespace berth::api {

std::string detachSequence(const std::string& keys) {
  std::string out;
  size_t start = 0;
  while (start <= keys.size()) {
    size_t end = keys.find(',', start);
    if (end == std::string::npos) end = keys.size();
    std::string key = keys.substr(start, end - start);
    start = end + 1;
    if (key.size() == 1) {
      out += key[0];
      continue;
    }
    if (key.size() == 6 && key.rfind("ctrl-", 0) == 0) {
      char c = key[5];
      if (c >= 'a' && c <= 'z') { out += static_cast<char>(c - 'a' + 1); continue; }
      if (c == '@') { out += '\0'; continue; }
      if (c >= '[' && c <= '_') { out += static_cast<char>(c - '[' + 27); continue; }
    }
    throw Error(ErrorKind::invalid, "Invalid detach keys (" + keys + ") provided");
  }
  return out;
}

std::string DetachFilter::feed(std::string_view in) {
  std::string out;
  for (char c : in) {
    if (sequence_.empty()) {
      out += c;
      continue;
    }
    held_ += c;
    // Keep the longest held suffix that can still begin the sequence.
    while (!held_.empty() && sequence_.compare(0, held_.size(), held_) != 0) {
      out += held_.front();
      held_.erase(0, 1);
    }
    if (held_ == sequence_) {
      detached_ = true;
      return out;
    }
  }
  return out;
}

std::string DetachFilter::flush() { return std::exchange(held_, std::string()); }

}  // namespace berth::api
