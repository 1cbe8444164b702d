// The journal's native protocol (systemd.io/JOURNAL_NATIVE_PROTOCOL), which systemd documents
// as stable for programs that do not link libsystemd: one datagram of fields to journald's
// socket, or, for an entry larger than a datagram may be, a sealed memfd holding the same
// bytes, passed over the socket. What sd_journal_send did for the log sink (common/log.cc).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth {

using JournalFields = std::vector<std::pair<std::string_view, std::string_view>>;

// The entry as the protocol spells it: NAME=value\n for a value without a newline; else NAME\n,
// the value's length as 64-bit little-endian, the value, \n.
std::string encodeJournalEntry(const JournalFields& fields);

class JournalWriter {
 public:
  explicit JournalWriter(std::string socketPath = "/run/systemd/journal/socket");
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // Sends one entry; false when journald did not take it (no socket, or no memory for a large
  // one). Thread-safe.
  bool send(const JournalFields& fields);

 private:
  std::string path_;
  int fd_;
};

}  // namespace berth
