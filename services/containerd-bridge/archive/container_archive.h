// docker cp's file operations inside a container's filesystem: stat a path, write a path as a
// tar stream, extract a tar stream into a directory. They run in berth-archive after it has
// entered the container's filesystem (chroot), so every path, `..` and symlink resolves inside
// the container and nothing here can reach the host's files. Names are dockerd's: a path
// resolves like container.ResolvePath (every parent component followed, the last one not,
// unless the path ends in "/" or "/."), archives are rebased like TarResourceRebaseOpts.
#pragma once

#include <archive.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace berth::bridge::archive {

// Lexical clean as Go's filepath.Clean, of an absolute path; a trailing "/" or "/." of the
// input is kept (dockerd's PreserveTrailingDotOrSeparator).
std::string cleanContainerPath(const std::string& path);

// Go's os.FileMode bits for a stat mode: what the CLI reads from X-Docker-Container-Path-Stat.
uint32_t goFileMode(uint32_t unixMode);

struct ResolvedPath {
  std::string absPath;   // the cleaned request path
  std::string resolved;  // with its parents' symlinks followed
};
// notFound "Could not find the file PATH in container" (the caller appends the id) when a
// parent does not exist.
ResolvedPath resolvePath(const std::string& path);

// dockerd's ContainerPathStat: name, size, mode (Go FileMode), mtime, linkTarget.
nlohmann::json statPath(const ResolvedPath& path);

// The tar stream of `path`, its entries rebased on the requested name, handed to `write` in
// blocks (libarchive's write callback). Owners are numeric: user and group names are not looked
// up (NSS inside a container is its code). Entries tar cannot hold (sockets) and files that
// vanish while they are read are skipped, as dockerd does; other failures throw.
using ArchiveWriteFn = la_ssize_t (*)(struct archive*, void* context, const void* buffer, size_t length);
void writeArchive(const ResolvedPath& path, ArchiveWriteFn write);

// The directory to extract into: `path` with every symlink followed. notFound when missing,
// invalid "extraction point is not a directory", forbidden when it is on a read-only mount.
std::string extractionDirectory(const std::string& path);

struct ExtractOptions {
  bool noOverwriteDirNonDir = false;
  std::optional<std::pair<uint32_t, uint32_t>> owner;  // chown every entry (cp -a with a User)
};
// Extracts the tar stream on `fd` (plain, or gzip, bzip2, xz or zstd, decompressed in process:
// never by an external program, which would be the container's) into `dir`. An entry whose name, link
// or hard-link target leaves `dir` is refused (invalid) before anything of it is written.
void extractArchive(int fd, const std::string& dir, const ExtractOptions& options);

}  // namespace berth::bridge::archive
