// Docker image references: parsing, validation and normalisation to the familiar form dockerd
// shows (`busybox:latest`, `localhost:5000/app:v1`, `name@sha256:...`), and what a name given
// by a client means among a set of images. The images service and the API's copy of its images
// (services/images/public/image_read_model.h) resolve names by this one function.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/errors.h"

namespace berth::images {

struct Reference {
  std::string name;    // familiar repository name: "busybox", "localhost:5000/team/app"
  std::string tag;     // empty when the reference is by digest only
  std::string digest;  // "sha256:<64 hex>" or empty

  std::string familiar() const;  // name:tag or name@digest
  std::string domain() const;    // registry host, "docker.io" when none is named
  std::string path() const;      // repository path within the registry ("library/busybox")
};

// Parses `text`; a reference with neither tag nor digest gets `defaultTag` when it is set.
// Throws an invalid Error with dockerd's wording for malformed references.
Reference parseReference(const std::string& text, const std::string& defaultTag = "latest");

// True for "sha256:<64 hex>" and for a bare 64-character hex string.
bool isFullImageId(const std::string& text);
// True for strings that can only be an id prefix (hex, 1..64 chars, optionally "sha256:").
bool isIdPrefix(const std::string& text);

// "<hex>" of "sha256:<hex>" (the text as given when it has no "sha256:").
std::string imageIdHex(const std::string& id);

// The image id `ref` names among `images` (a map by id, "sha256:<hex>", ordered) with
// `references` (familiar reference -> image id), as dockerd resolves it: a full id, then a
// reference ("busybox" is "busybox:latest"), then an unambiguous id prefix. Throws notFound
// "No such image: REF" (REF normalised as dockerd shows it) or invalid (a malformed reference,
// several ids with that prefix).
template <typename Images, typename References>
std::string resolveImage(const std::string& ref, const Images& images, const References& references) {
  auto notFound = [&] {
    std::string shown = ref;
    try {
      if (!isFullImageId(ref)) shown = parseReference(ref).familiar();
    } catch (const Error&) {
    }
    return Error(ErrorKind::notFound, "No such image: " + shown);
  };
  if (isFullImageId(ref)) {
    std::string id = ref.rfind("sha256:", 0) == 0 ? ref : "sha256:" + ref;
    if (images.count(id)) return id;
  }
  // A name given as it is stored (`name:tag`, `name@digest`) needs no parsing: a stored
  // reference is in its familiar form, which parses to itself.
  if (auto it = references.find(ref); it != references.end()) return it->second;
  try {
    auto r = parseReference(ref);
    if (auto it = references.find(r.familiar()); it != references.end()) return it->second;
    if (!r.digest.empty() && r.tag.empty()) throw notFound();
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::notFound) throw;
    if (!isIdPrefix(ref)) throw;
  }
  if (isIdPrefix(ref)) {
    std::string prefix = "sha256:" + imageIdHex(ref);
    std::vector<std::string> matches;
    for (auto it = images.lower_bound(prefix); it != images.end() && it->first.rfind(prefix, 0) == 0; ++it) {
      matches.push_back(it->first);
    }
    if (matches.size() == 1) return matches[0];
    if (matches.size() > 1) throw Error(ErrorKind::invalid, "multiple IDs found with provided prefix: " + imageIdHex(ref));
  }
  throw notFound();
}

}  // namespace berth::images
