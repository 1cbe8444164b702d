// Detach keys for TTY attach and exec, as dockerd has them: the client's detachKeys (default
// ctrl-p,ctrl-q) typed on stdin end the stream and leave the container running.
#pragma once

#include <string>
#include <string_view>

namespace berth::api {

// dockerd's term.ToBytes: the bytes of a detach sequence such as "ctrl-p,ctrl-q" or "a,b".
// Throws invalid "Invalid detach keys (KEYS) provided" for anything else.
std::string detachSequence(const std::string& keys);

// Client input towards the container, watching for the detach sequence: bytes that start it
// are held back until it completes (detach) or breaks (they are sent after all).
class DetachFilter {
 public:
  // An empty sequence passes everything through.
  explicit DetachFilter(std::string sequence) : sequence_(std::move(sequence)) {}
  // What to forward of `in`; sets detached() when the sequence completed (the rest is dropped).
  std::string feed(std::string_view in);
  // What is still held back when the client's input ends without the sequence.
  std::string flush();
  bool detached() const { return detached_; }

 private:
  std::string sequence_;
  std::string held_;
  bool detached_ = false;
};

}  // namespace berth::api
