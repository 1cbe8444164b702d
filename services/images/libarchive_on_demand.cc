// libarchive, opened at the first call into it rather than linked. Linked, libarchive brings
// libxml2 and ICU (for the xar format, which berth never reads), lz4, lzma, zstd, bzip2 and
// libacl into berth-images: 1.3 MB of PSS in a fresh service that has not loaded, pulled,
// saved or exported anything yet (docs/performance.md, "libarchive opened when first needed").
//
// Each function of libarchive's API that berth-images calls is defined here with libarchive's
// own name and signature (BERTH_FORWARD_TO, common/shared_library.h: a signature that differs
// from <archive.h> does not compile) and forwards to the function of that name in
// libarchive.so.13, which the first call opens. The code that uses libarchive is written and
// compiled as for a linked library; unit_tests and the fuzzers link libarchive itself, and
// libarchive_on_demand_tests runs these forwarders in a program that does not.
//
// And closed again once idle: after a `docker load` the library and what it brought in (ICU
// and libxml2 among them) kept 1.6 MB of PSS in a service that may not read another archive
// for days (docs/performance.md, "libarchive closed when idle"). Every object berth-images
// gets from libarchive comes from one of its `_new` functions and goes to the matching `_free`
// (an archive_entry that archive_read_next_header returns belongs to its archive): each holds
// the library from the one to the other, and closeLibarchiveIfIdle closes it only when none is
// alive.
#include "services/images/libarchive_on_demand.h"

#include <archive.h>
#include <archive_entry.h>

#include <cstdarg>
#include <cstdio>

#include "common/shared_library.h"

namespace {

// Opened by whichever thread makes the first object while it is closed; a failure (an
// `unavailable` Error naming the library and dlerror's text) reaches that caller, and the next
// one tries again. Never destroyed: a forwarder may run while the process exits.
berth::ClosableLibrary& libarchive() {
  static auto* library = new berth::ClosableLibrary("libarchive.so.13");
  return *library;
}

// Makes an object with `make`, holding the library for it unless it is null.
template <typename Made, typename Function>
Made* madeHeld(berth::LibraryFunction<Function>& make) {
  libarchive().hold();
  Made* made = nullptr;
  try {
    made = make.get()();
  } catch (...) {
    libarchive().release();
    throw;
  }
  if (!made) libarchive().release();
  return made;
}

// Frees `object` with `free` and lets go of the library it held.
template <typename Function, typename Object>
auto freedHeld(berth::LibraryFunction<Function>& free, Object* object) {
  Function function = free.get();  // a failed look-up frees nothing, so it keeps the hold
  struct Release {
    ~Release() { libarchive().release(); }
  } release;
  return function(object);
}

}  // namespace

namespace berth::images {

bool closeLibarchiveIfIdle(std::chrono::steady_clock::duration idleFor) { return libarchive().closeIfIdle(idleFor); }

bool libarchiveIsOpen() { return libarchive().isOpen(); }

}  // namespace berth::images

extern "C" {

BERTH_FORWARD_TO_HELD(libarchive, void, archive_entry_copy_gname, (struct archive_entry * e, const char* s), (e, s))
BERTH_FORWARD_TO_HELD(libarchive, void, archive_entry_copy_stat, (struct archive_entry * e, const struct stat* s),
                      (e, s))
BERTH_FORWARD_TO_HELD(libarchive, void, archive_entry_copy_symlink, (struct archive_entry * e, const char* s), (e, s))
BERTH_FORWARD_TO_HELD(libarchive, void, archive_entry_copy_uname, (struct archive_entry * e, const char* s), (e, s))
BERTH_FORWARD_TO_HELD(libarchive, __LA_MODE_T, archive_entry_filetype, (struct archive_entry * e), (e))
BERTH_FORWARD_TO_HELD(libarchive, const char*, archive_entry_hardlink, (struct archive_entry * e), (e))
BERTH_FORWARD_TO_HELD(libarchive, const char*, archive_entry_pathname, (struct archive_entry * e), (e))
BERTH_FORWARD_TO_HELD(libarchive, void, archive_entry_set_filetype, (struct archive_entry * e, unsigned int type),
                      (e, type))
BERTH_FORWARD_TO_HELD(libarchive, void, archive_entry_set_hardlink, (struct archive_entry * e, const char* s), (e, s))
BERTH_FORWARD_TO_HELD(libarchive, void, archive_entry_set_nlink, (struct archive_entry * e, unsigned int n), (e, n))
BERTH_FORWARD_TO_HELD(libarchive, void, archive_entry_set_pathname, (struct archive_entry * e, const char* s), (e, s))
BERTH_FORWARD_TO_HELD(libarchive, void, archive_entry_set_perm, (struct archive_entry * e, __LA_MODE_T mode), (e, mode))
BERTH_FORWARD_TO_HELD(libarchive, void, archive_entry_set_size, (struct archive_entry * e, la_int64_t size), (e, size))
BERTH_FORWARD_TO_HELD(libarchive, la_int64_t, archive_entry_size, (struct archive_entry * e), (e))
BERTH_FORWARD_TO_HELD(libarchive, void, archive_entry_xattr_add_entry,
                      (struct archive_entry * e, const char* name, const void* value, size_t size),
                      (e, name, value, size))
BERTH_FORWARD_TO_HELD(libarchive, void, archive_entry_xattr_clear, (struct archive_entry * e), (e))
BERTH_FORWARD_TO_HELD(libarchive, int, archive_entry_xattr_next,
                      (struct archive_entry * e, const char** name, const void** value, size_t* size),
                      (e, name, value, size))
BERTH_FORWARD_TO_HELD(libarchive, int, archive_entry_xattr_reset, (struct archive_entry * e), (e))
BERTH_FORWARD_TO_HELD(libarchive, const char*, archive_error_string, (struct archive * a), (a))
BERTH_FORWARD_TO_HELD(libarchive, int, archive_read_data_block,
                      (struct archive * a, const void** buff, size_t* size, la_int64_t* offset),
                      (a, buff, size, offset))
BERTH_FORWARD_TO_HELD(libarchive, int, archive_read_data_into_fd, (struct archive * a, int fd), (a, fd))
BERTH_FORWARD_TO_HELD(libarchive, const char*, archive_read_disk_gname, (struct archive * a, la_int64_t gid), (a, gid))
BERTH_FORWARD_TO_HELD(libarchive, int, archive_read_disk_set_standard_lookup, (struct archive * a), (a))
BERTH_FORWARD_TO_HELD(libarchive, const char*, archive_read_disk_uname, (struct archive * a, la_int64_t uid), (a, uid))
BERTH_FORWARD_TO_HELD(libarchive, int, archive_read_next_header, (struct archive * a, struct archive_entry** e), (a, e))
BERTH_FORWARD_TO_HELD(libarchive, int, archive_read_open,
                      (struct archive * a, void* data, archive_open_callback* open, archive_read_callback* read,
                       archive_close_callback* close),
                      (a, data, open, read, close))
BERTH_FORWARD_TO_HELD(libarchive, int, archive_read_support_filter_gzip, (struct archive * a), (a))
BERTH_FORWARD_TO_HELD(libarchive, int, archive_read_support_format_gnutar, (struct archive * a), (a))
BERTH_FORWARD_TO_HELD(libarchive, int, archive_read_support_format_tar, (struct archive * a), (a))
BERTH_FORWARD_TO_HELD(libarchive, int, archive_write_close, (struct archive * a), (a))
BERTH_FORWARD_TO_HELD(libarchive, la_ssize_t, archive_write_data, (struct archive * a, const void* data, size_t size),
                      (a, data, size))
BERTH_FORWARD_TO_HELD(libarchive, la_ssize_t, archive_write_data_block,
                      (struct archive * a, const void* data, size_t size, la_int64_t offset), (a, data, size, offset))
BERTH_FORWARD_TO_HELD(libarchive, int, archive_write_disk_set_options, (struct archive * a, int flags), (a, flags))
BERTH_FORWARD_TO_HELD(libarchive, int, archive_write_fail, (struct archive * a), (a))
BERTH_FORWARD_TO_HELD(libarchive, int, archive_write_finish_entry, (struct archive * a), (a))
BERTH_FORWARD_TO_HELD(libarchive, int, archive_write_header, (struct archive * a, struct archive_entry* e), (a, e))
BERTH_FORWARD_TO_HELD(libarchive, int, archive_write_open2,
                      (struct archive * a, void* data, archive_open_callback* open, archive_write_callback* write,
                       archive_close_callback* close, archive_free_callback* free),
                      (a, data, open, write, close, free))
BERTH_FORWARD_TO_HELD(libarchive, int, archive_write_set_bytes_in_last_block, (struct archive * a, int bytes),
                      (a, bytes))
BERTH_FORWARD_TO_HELD(libarchive, int, archive_write_set_format_pax_restricted, (struct archive * a), (a))

// The one variadic function: formatted here (libarchive's own formatter knows fewer
// conversions than vsnprintf), passed on as one string. Messages berth sets are a line each;
// a longer one is cut at 1 KiB.
void archive_set_error(struct archive* a, int error, const char* format, ...) {
  char text[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(text, sizeof text, format, args);
  va_end(args);
  // Its type spelled out: decltype would carry the format attribute, which a template drops.
  using SetError = void (*)(struct archive*, int, const char*, ...);
  static berth::LibraryFunction<SetError> function(libarchive(), "archive_set_error");
  function.get()(a, error, "%s", text);
}

// The functions that make an object hold the library for it, and those that free one let go
// (a null object is libarchive's no-op, ARCHIVE_OK, and held nothing).
#define BERTH_FORWARD_MAKING(Made, name)                                        \
  Made* name(void) {                                                            \
    static berth::LibraryFunction<decltype(&::name)> make(libarchive(), #name); \
    return madeHeld<Made>(make);                                                \
  }
#define BERTH_FORWARD_FREEING(name, Object)                                     \
  int name(Object* object) {                                                    \
    static berth::LibraryFunction<decltype(&::name)> free(libarchive(), #name); \
    return object ? freedHeld(free, object) : ARCHIVE_OK;                       \
  }

BERTH_FORWARD_MAKING(struct archive_entry, archive_entry_new)
BERTH_FORWARD_MAKING(struct archive, archive_read_disk_new)
BERTH_FORWARD_MAKING(struct archive, archive_read_new)
BERTH_FORWARD_MAKING(struct archive, archive_write_disk_new)
BERTH_FORWARD_MAKING(struct archive, archive_write_new)
BERTH_FORWARD_FREEING(archive_read_free, struct archive)
BERTH_FORWARD_FREEING(archive_write_free, struct archive)

void archive_entry_free(struct archive_entry* e) {
  static berth::LibraryFunction<decltype(&::archive_entry_free)> free(libarchive(), "archive_entry_free");
  if (e) freedHeld(free, e);
}

}  // extern "C"
