// libarchive, opened at the first call into it rather than linked. Linked, libarchive brings
// libxml2 and ICU (for the xar format, which berth never reads), lz4, lzma, zstd, bzip2 and
// libacl into berth-images: 1.3 MB of PSS in a fresh service that has not loaded, pulled,
// saved or exported anything yet (docs/performance.md, "libarchive opened when first needed").
//
// Each function of libarchive's API that berth-images calls is defined here with libarchive's
// own name and signature (checked against <archive.h>: a mismatch is a conflicting declaration
// of a C function) and forwards to the function of that name in libarchive.so.13, which the
// first call opens. The code that uses libarchive is written and compiled as for a linked
// library; the tests and fuzzers link libarchive itself and not this file.
#include <archive.h>
#include <archive_entry.h>

#include <cstdarg>
#include <cstdio>

#include "common/shared_library.h"

namespace {

// One pointer per function, of the function's own type.
struct Libarchive {
#define BERTH_LIBARCHIVE_POINTER(name) decltype(&::name) name;
#define BERTH_LIBARCHIVE_FUNCTIONS(X)                                                                              \
  X(archive_entry_copy_gname)                                                                                      \
  X(archive_entry_copy_stat)                                                                                       \
  X(archive_entry_copy_symlink)                                                                                    \
  X(archive_entry_copy_uname)                                                                                      \
  X(archive_entry_filetype)                                                                                        \
  X(archive_entry_free)                                                                                            \
  X(archive_entry_hardlink)                                                                                        \
  X(archive_entry_new)                                                                                             \
  X(archive_entry_pathname)                                                                                        \
  X(archive_entry_set_filetype)                                                                                    \
  X(archive_entry_set_hardlink)                                                                                    \
  X(archive_entry_set_nlink)                                                                                       \
  X(archive_entry_set_pathname)                                                                                    \
  X(archive_entry_set_perm)                                                                                        \
  X(archive_entry_set_size)                                                                                        \
  X(archive_entry_size)                                                                                            \
  X(archive_entry_xattr_add_entry)                                                                                 \
  X(archive_entry_xattr_clear)                                                                                     \
  X(archive_entry_xattr_next)                                                                                      \
  X(archive_entry_xattr_reset)                                                                                     \
  X(archive_error_string)                                                                                          \
  X(archive_read_data_block)                                                                                       \
  X(archive_read_data_into_fd)                                                                                     \
  X(archive_read_disk_gname)                                                                                       \
  X(archive_read_disk_new)                                                                                         \
  X(archive_read_disk_set_standard_lookup)                                                                         \
  X(archive_read_disk_uname)                                                                                       \
  X(archive_read_free)                                                                                             \
  X(archive_read_new)                                                                                              \
  X(archive_read_next_header)                                                                                      \
  X(archive_read_open)                                                                                             \
  X(archive_read_support_filter_gzip)                                                                              \
  X(archive_read_support_format_gnutar)                                                                            \
  X(archive_read_support_format_tar)                                                                               \
  X(archive_set_error)                                                                                             \
  X(archive_write_close)                                                                                           \
  X(archive_write_data)                                                                                            \
  X(archive_write_data_block)                                                                                      \
  X(archive_write_disk_new)                                                                                        \
  X(archive_write_disk_set_options)                                                                                \
  X(archive_write_fail)                                                                                            \
  X(archive_write_finish_entry)                                                                                    \
  X(archive_write_free)                                                                                            \
  X(archive_write_header)                                                                                          \
  X(archive_write_new)                                                                                             \
  X(archive_write_open2)                                                                                           \
  X(archive_write_set_bytes_in_last_block)                                                                         \
  X(archive_write_set_format_pax_restricted)
  BERTH_LIBARCHIVE_FUNCTIONS(BERTH_LIBARCHIVE_POINTER)
#undef BERTH_LIBARCHIVE_POINTER
};

Libarchive load() {
  const berth::SharedLibrary library("libarchive.so.13");
  Libarchive functions{};
#define BERTH_LIBARCHIVE_RESOLVE(name) library.resolve(#name, functions.name);
  BERTH_LIBARCHIVE_FUNCTIONS(BERTH_LIBARCHIVE_RESOLVE)
#undef BERTH_LIBARCHIVE_RESOLVE
  return functions;
}

// Opened once per process, by whichever thread calls first; a failure (an `unavailable` Error
// naming the library and dlerror's text) reaches that caller, and the next call tries again.
const Libarchive& libarchive() {
  static const Libarchive functions = load();
  return functions;
}

}  // namespace

// The definitions; inside extern "C", a parameter list that differs from <archive.h>'s does not
// compile.
#define BERTH_FORWARD(Ret, name, Params, Args) \
  Ret name Params { return libarchive().name Args; }

extern "C" {

BERTH_FORWARD(void, archive_entry_copy_gname, (struct archive_entry * e, const char* s), (e, s))
BERTH_FORWARD(void, archive_entry_copy_stat, (struct archive_entry * e, const struct stat* s), (e, s))
BERTH_FORWARD(void, archive_entry_copy_symlink, (struct archive_entry * e, const char* s), (e, s))
BERTH_FORWARD(void, archive_entry_copy_uname, (struct archive_entry * e, const char* s), (e, s))
BERTH_FORWARD(__LA_MODE_T, archive_entry_filetype, (struct archive_entry * e), (e))
BERTH_FORWARD(void, archive_entry_free, (struct archive_entry * e), (e))
BERTH_FORWARD(const char*, archive_entry_hardlink, (struct archive_entry * e), (e))
BERTH_FORWARD(struct archive_entry*, archive_entry_new, (void), ())
BERTH_FORWARD(const char*, archive_entry_pathname, (struct archive_entry * e), (e))
BERTH_FORWARD(void, archive_entry_set_filetype, (struct archive_entry * e, unsigned int type), (e, type))
BERTH_FORWARD(void, archive_entry_set_hardlink, (struct archive_entry * e, const char* s), (e, s))
BERTH_FORWARD(void, archive_entry_set_nlink, (struct archive_entry * e, unsigned int n), (e, n))
BERTH_FORWARD(void, archive_entry_set_pathname, (struct archive_entry * e, const char* s), (e, s))
BERTH_FORWARD(void, archive_entry_set_perm, (struct archive_entry * e, __LA_MODE_T mode), (e, mode))
BERTH_FORWARD(void, archive_entry_set_size, (struct archive_entry * e, la_int64_t size), (e, size))
BERTH_FORWARD(la_int64_t, archive_entry_size, (struct archive_entry * e), (e))
BERTH_FORWARD(void, archive_entry_xattr_add_entry,
              (struct archive_entry * e, const char* name, const void* value, size_t size), (e, name, value, size))
BERTH_FORWARD(void, archive_entry_xattr_clear, (struct archive_entry * e), (e))
BERTH_FORWARD(int, archive_entry_xattr_next, (struct archive_entry * e, const char** name, const void** value, size_t* size),
              (e, name, value, size))
BERTH_FORWARD(int, archive_entry_xattr_reset, (struct archive_entry * e), (e))
BERTH_FORWARD(const char*, archive_error_string, (struct archive * a), (a))
BERTH_FORWARD(int, archive_read_data_block, (struct archive * a, const void** buff, size_t* size, la_int64_t* offset),
              (a, buff, size, offset))
BERTH_FORWARD(int, archive_read_data_into_fd, (struct archive * a, int fd), (a, fd))
BERTH_FORWARD(const char*, archive_read_disk_gname, (struct archive * a, la_int64_t gid), (a, gid))
BERTH_FORWARD(struct archive*, archive_read_disk_new, (void), ())
BERTH_FORWARD(int, archive_read_disk_set_standard_lookup, (struct archive * a), (a))
BERTH_FORWARD(const char*, archive_read_disk_uname, (struct archive * a, la_int64_t uid), (a, uid))
BERTH_FORWARD(int, archive_read_free, (struct archive * a), (a))
BERTH_FORWARD(struct archive*, archive_read_new, (void), ())
BERTH_FORWARD(int, archive_read_next_header, (struct archive * a, struct archive_entry** e), (a, e))
BERTH_FORWARD(int, archive_read_open,
              (struct archive * a, void* data, archive_open_callback* open, archive_read_callback* read,
               archive_close_callback* close),
              (a, data, open, read, close))
BERTH_FORWARD(int, archive_read_support_filter_gzip, (struct archive * a), (a))
BERTH_FORWARD(int, archive_read_support_format_gnutar, (struct archive * a), (a))
BERTH_FORWARD(int, archive_read_support_format_tar, (struct archive * a), (a))
BERTH_FORWARD(int, archive_write_close, (struct archive * a), (a))
BERTH_FORWARD(la_ssize_t, archive_write_data, (struct archive * a, const void* data, size_t size), (a, data, size))
BERTH_FORWARD(la_ssize_t, archive_write_data_block, (struct archive * a, const void* data, size_t size, la_int64_t offset),
              (a, data, size, offset))
BERTH_FORWARD(struct archive*, archive_write_disk_new, (void), ())
BERTH_FORWARD(int, archive_write_disk_set_options, (struct archive * a, int flags), (a, flags))
BERTH_FORWARD(int, archive_write_fail, (struct archive * a), (a))
BERTH_FORWARD(int, archive_write_finish_entry, (struct archive * a), (a))
BERTH_FORWARD(int, archive_write_free, (struct archive * a), (a))
BERTH_FORWARD(int, archive_write_header, (struct archive * a, struct archive_entry * e), (a, e))
BERTH_FORWARD(struct archive*, archive_write_new, (void), ())
BERTH_FORWARD(int, archive_write_open2,
              (struct archive * a, void* data, archive_open_callback* open, archive_write_callback* write,
               archive_close_callback* close, archive_free_callback* free),
              (a, data, open, write, close, free))
BERTH_FORWARD(int, archive_write_set_bytes_in_last_block, (struct archive * a, int bytes), (a, bytes))
BERTH_FORWARD(int, archive_write_set_format_pax_restricted, (struct archive * a), (a))

// The one variadic function: formatted here (libarchive's own formatter knows fewer
// conversions than vsnprintf), passed on as one string. Messages berth sets are a line each;
// a longer one is cut at 1 KiB.
void archive_set_error(struct archive* a, int error, const char* format, ...) {
  char text[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(text, sizeof text, format, args);
  va_end(args);
  libarchive().archive_set_error(a, error, "%s", text);
}

}  // extern "C"

#undef BERTH_FORWARD
