// What the fuzz targets share: cutting one input into the parts a target feeds to different
// parsers, a scratch directory per process, and quiet logs (spdlog at full speed would be most
// of a run's time). See docs/fuzzing.md.
#pragma once

#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "common/files.h"

namespace berth::fuzz {

// The input cut at NUL bytes into at most `count` parts; the last part keeps any further NULs.
// Missing parts are empty. (No JSON text, reference or header holds a NUL, so the separator
// costs a target nothing it could have fuzzed.)
inline std::vector<std::string> splitInput(const uint8_t* data, size_t size, size_t count) {
  std::vector<std::string> parts;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (parts.size() + 1 < count) {
    auto nul = rest.find('\0');
    if (nul == std::string_view::npos) break;
    parts.emplace_back(rest.substr(0, nul));
    rest.remove_prefix(nul + 1);
  }
  parts.emplace_back(rest);
  parts.resize(count);
  return parts;
}

// A directory of this process's own under $TMPDIR (default /tmp), removed when the process
// exits normally. A crash leaves it for the post-mortem.
class ScratchDir {
 public:
  explicit ScratchDir(const char* name) {
    const char* tmp = getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/berth-fuzz-" + name + "-XXXXXX";
    if (!mkdtemp(pattern.data())) {
      std::perror("mkdtemp");
      std::abort();
    }
    path_ = pattern;
  }
  ~ScratchDir() { removeAll(path_); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline void quietLogs() { spdlog::set_level(spdlog::level::off); }

// A broken invariant of the code under test (not of the input): report it and abort, so
// libFuzzer keeps the input as a crash.
[[noreturn]] inline void invariantBroken(const std::string& what) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace berth::fuzz
