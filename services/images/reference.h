// Docker image references: parsing, validation and normalisation to the familiar form dockerd
// shows (`busybox:latest`, `localhost:5000/app:v1`, `name@sha256:...`).
#pragma once

#include <optional>
#include <string>

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

}  // namespace berth::images
