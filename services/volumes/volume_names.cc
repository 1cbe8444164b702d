#include "services/volumes/volume_names.h"

#include <cstdio>

#include "common/errors.h"
#include "common/random.h"

namespace berth::volumes {
namespace {

bool alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

}  // namespace

void validateVolumeName(const std::string& name) {
  if (name.size() == 1) {
    throw Error(ErrorKind::invalid, "volume name is too short, names should be at least two alphanumeric characters");
  }
  bool ok = name.size() >= 2 && alnum(name[0]);
  for (size_t i = 1; ok && i < name.size(); ++i) {
    char c = name[i];
    ok = alnum(c) || c == '_' || c == '.' || c == '-';
  }
  if (!ok) {
    throw Error(ErrorKind::invalid, goQuote(name) +
                                        " includes invalid characters for a local volume name, only "
                                        "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host "
                                        "directory, use absolute path");
  }
}

std::string randomVolumeName() { return randomHex(32); }

std::string goQuote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\v': out += "\\v"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);  // UTF-8 passes through, as Go prints printable runes
        }
    }
  }
  return out + "\"";
}

}  // namespace berth::volumes
