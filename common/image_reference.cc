#include "common/image_reference.h"

#include <regex>

#include "common/errors.h"

namespace berth::images {
namespace {

// The grammar of github.com/distribution/reference, in ECMAScript syntax. Separators are never
// empty ("[-]+", not "[-]*"): with an empty alternative std::regex backtracks exponentially on a
// long name followed by a bad character.
// Compiled at the first parse, not when a process that links this file starts.
struct Grammar {
  std::regex name, tag, digest;
  Grammar() {
    const std::string alnum = "[a-z0-9]+";
    const std::string separator = "(?:[._]|__|[-]+)";
    const std::string component = alnum + "(?:" + separator + alnum + ")*";
    const std::string domainComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
    const std::string domain =
        "(?:" + domainComponent + "(?:\\." + domainComponent + ")*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?";
    name = std::regex("^(?:(" + domain + ")/)?(" + component + "(?:/" + component + ")*)$");
    tag = std::regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$");
    digest = std::regex("^sha256:[a-f0-9]{64}$");
  }
};
const Grammar& grammar() {
  static const Grammar g;
  return g;
}

constexpr size_t kNameTotalLengthMax = 255;

bool looksLikeDomain(const std::string& first) {
  return first.find('.') != std::string::npos || first.find(':') != std::string::npos || first == "localhost" ||
         std::any_of(first.begin(), first.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

}  // namespace

std::string Reference::familiar() const {
  std::string s = name;
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

std::string Reference::domain() const {
  auto slash = name.find('/');
  if (slash != std::string::npos && looksLikeDomain(name.substr(0, slash))) return name.substr(0, slash);
  return "docker.io";
}

std::string Reference::path() const {
  auto slash = name.find('/');
  if (slash != std::string::npos && looksLikeDomain(name.substr(0, slash))) return name.substr(slash + 1);
  return slash == std::string::npos ? "library/" + name : name;
}

Reference parseReference(const std::string& text, const std::string& defaultTag) {
  auto bad = [&] { return Error(ErrorKind::invalid, "invalid reference format: " + text); };
  if (text.empty() || text.size() > 512) throw bad();
  Reference r;
  std::string rest = text;
  if (auto at = rest.find('@'); at != std::string::npos) {
    r.digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
    if (!std::regex_match(r.digest, grammar().digest)) throw bad();
  }
  // A tag follows the last colon after the last slash (a colon before it is a port).
  auto slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    r.tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    if (!std::regex_match(r.tag, grammar().tag)) throw bad();
  }
  std::smatch m;
  if (!std::regex_match(rest, m, grammar().name)) {
    if (std::any_of(rest.begin(), rest.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
      throw Error(ErrorKind::invalid, "invalid reference format: repository name (" + rest + ") must be lowercase");
    }
    throw bad();
  }
  // A first component that is not a domain belongs to the path (docker.io/library is implied).
  std::string domain = m[1];
  std::string path = m[2];
  if (!domain.empty() && !looksLikeDomain(domain)) {
    path = domain + "/" + path;
    domain.clear();
  }
  if (domain == "docker.io" || domain == "index.docker.io") domain.clear();
  if (domain.empty() && path.rfind("library/", 0) == 0 && path.find('/', 8) == std::string::npos) path = path.substr(8);
  // distribution's NameTotalLengthMax, on the whole name as it normalizes it
  // ("docker.io/library/busybox"). It also keeps every familiar form under the 512 above, so a
  // name berth stores with its tag (`name:latest`) always parses again.
  size_t fullLength = (domain.empty() ? std::string("docker.io").size() : domain.size()) + 1 +
                      (domain.empty() && path.find('/') == std::string::npos ? 8 : 0) + path.size();
  if (fullLength > kNameTotalLengthMax) {
    throw Error(ErrorKind::invalid, "invalid reference format: repository name must not be more than " +
                                        std::to_string(kNameTotalLengthMax) + " characters");
  }
  r.name = domain.empty() ? path : domain + "/" + path;
  if (r.tag.empty() && r.digest.empty()) r.tag = defaultTag;
  return r;
}

std::string imageIdHex(const std::string& id) { return id.rfind("sha256:", 0) == 0 ? id.substr(7) : id; }

bool isFullImageId(const std::string& text) {
  std::string hex = text.rfind("sha256:", 0) == 0 ? text.substr(7) : text;
  return hex.size() == 64 && hex.find_first_not_of("0123456789abcdef") == std::string::npos;
}

bool isIdPrefix(const std::string& text) {
  std::string hex = text.rfind("sha256:", 0) == 0 ? text.substr(7) : text;
  return !hex.empty() && hex.size() <= 64 && hex.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace berth::images
