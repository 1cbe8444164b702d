#include "services/containerd-bridge/stream_server.h"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <optional>

#include "common/errors.h"
#include "common/time_format.h"
#include "ipc/stream_protocol.h"
#include "services/containerd-bridge/log_reader.h"
#include "common/json_text.h"

namespace berth::bridge {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

using ipc::streams::readLine;
using ipc::streams::writeAll;

// Formats one log entry for the client: the timestamp when asked, framing without a TTY.
std::string render(const LogEntry& e, bool tty, bool timestamps) {
  std::string text = e.text;
  if (timestamps) {
    std::string t = rfc3339Nano(e.timeNanos);
    // dockerd prints nine fraction digits.
    auto dot = t.find('.');
    if (dot == std::string::npos) t.insert(t.size() - 1, ".000000000");
    else while (t.size() - dot - 2 < 9) t.insert(t.size() - 1, "0");
    text = t + " " + text;
  }
  if (tty) return text;
  return frameStream(e.stream == "stderr" ? 2 : 1, text);
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// True when the peer has closed its side completely (not just half-closed stdin).
bool peerGone(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  return (p.revents & (POLLHUP | POLLERR)) != 0;
}

}  // namespace

StreamServer::StreamServer(ContainersCore& containers, std::string socketPath, std::string archiveBinary)
    : containers_(containers), path_(std::move(socketPath)), archiveBinary_(std::move(archiveBinary)) {}

StreamServer::~StreamServer() { stop(); }

void StreamServer::start() {
  ::unlink(path_.c_str());
  listenFd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof addr.sun_path) throw Error(ErrorKind::invalid, "stream socket path too long: " + path_);
  std::strcpy(addr.sun_path, path_.c_str());
  if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listenFd_, 128) != 0) {
    throw Error(ErrorKind::internal, "bind " + path_ + ": " + std::strerror(errno));
  }
  ::chmod(path_.c_str(), 0600);
  running_ = true;
  acceptor_ = std::thread([this] { acceptLoop(); });
}

void StreamServer::stop() {
  if (!running_.exchange(false)) return;
  ::shutdown(listenFd_, SHUT_RDWR);
  ::close(listenFd_);
  if (acceptor_.joinable()) acceptor_.join();
}

void StreamServer::acceptLoop() {
  while (running_) {
    int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      if (!running_) return;
      std::this_thread::sleep_for(10ms);
      continue;
    }
    // Streams live as long as a container's output: one detached thread each.
    std::thread([this, fd] {
      serve(fd);
      ::close(fd);
    }).detach();
  }
}

void StreamServer::serve(int fd) {
  try {
    auto request = parseJsonOrDiscarded(readLine(fd));
    if (!request.is_object()) throw Error(ErrorKind::invalid, "malformed stream request");
    std::string op = request.value("op", "");
    if (op == "logs") logs(fd, request);
    else if (op == "attach") attach(fd, request);
    else if (op == "exec") exec(fd, request);
    else if (op == "archive") archive(fd, request);
    else throw Error(ErrorKind::invalid, "unknown stream op: " + op);
  } catch (const Error& e) {
    writeAll(fd, ipc::streams::errorLine(e.kind(), e.what()));
  } catch (const std::exception& e) {
    writeAll(fd, ipc::streams::errorLine(ErrorKind::internal, e.what()));
  }
}

void StreamServer::logs(int fd, const json& request) {
  auto target = containers_.attachTarget(request.value("id", ""));
  bool wantOut = request.value("stdout", false), wantErr = request.value("stderr", false);
  if (!wantOut && !wantErr) throw Error(ErrorKind::invalid, "Bad parameters: you must choose at least one stream");
  int64_t since = request.value("since", int64_t{0}), until = request.value("until", int64_t{0});
  bool timestamps = request.value("timestamps", false);
  bool follow = request.value("follow", false);
  int64_t tail = request.value("tail", int64_t{-1});
  bool running = flagsOf(target.status).running;
  int64_t exits = target.exits;
  if (!target.logReadable) {
    writeAll(fd, ipc::streams::okLine({{"tty", target.tty}, {"unreadable", true}}));
    return;
  }
  writeAll(fd, ipc::streams::okLine({{"tty", target.tty}}));

  auto wanted = [&](const LogEntry& e) {
    if ((e.stream == "stderr" && !wantErr) || (e.stream != "stderr" && !wantOut)) return false;
    if (since > 0 && e.timeNanos < since) return false;
    return true;
  };
  // Streamed from the files, never gathered: --tail finds its start by reading backwards, so a
  // log of gigabytes costs a block of memory, not its size. As in dockerd, the tail counts
  // the log's lines before since/until and the stream choice filter them.
  JsonLogReader reader(target.logPath);
  std::string out;
  bool clientGone = false;
  reader.forEach(tail, [&](const LogEntry& e) {
    if (until > 0 && e.timeNanos > until) return false;
    if (!wanted(e)) return true;
    out += render(e, target.tty, timestamps);
    if (out.size() > (1 << 20)) {
      if (!writeAll(fd, out)) {
        clientGone = true;
        return false;
      }
      out.clear();
    }
    return true;
  });
  if (clientGone || !writeAll(fd, out)) return;
  if (!follow || !running) return;
  bool finished = false;
  for (;;) {
    for (const auto& e : reader.readNew()) {
      if (until > 0 && e.timeNanos > until) return;
      if (wanted(e) && !writeAll(fd, render(e, target.tty, timestamps))) return;
    }
    if (finished) return;
    if (peerGone(fd)) return;
    if (containers_.waitExitAfter(target.id, exits, 50ms)) {
      // Exited: the log is complete once the logger says so.
      for (int i = 0; i < 100 && !exists(target.loggerDone); ++i) std::this_thread::sleep_for(20ms);
      finished = true;
    }
  }
}

void StreamServer::attach(int fd, const json& request) {
  namespace streams = ipc::streams;
  std::string ref = request.value("id", "");
  bool marked = request.value("marked", false);
  // A resumed attach (the API's, after a bridge restart cut the first): from the position the
  // API last relayed, until the exit count passes the first attach's.
  std::optional<LogPosition> resume;
  if (marked && request.contains("resume") && request["resume"].is_object()) {
    resume = LogPosition{request["resume"].value("file", uint64_t{0}), request["resume"].value("offset", int64_t{0})};
  }
  AttachTarget target;
  std::optional<std::string> removedLog;
  try {
    target = containers_.attachTarget(ref);
  } catch (const Error& e) {
    // Removed meanwhile (docker run --rm): what it printed is in the log its removal kept.
    if (!resume || e.kind() != ErrorKind::notFound || !(removedLog = containers_.removedLogOf(ref))) throw;
    target.id = ref;
    target.tty = request.value("tty", false);
    target.logPath = *removedLog;
  }
  bool wantIn = request.value("stdin", false) && target.openStdin && !resume;
  bool wantOut = request.value("stdout", false), wantErr = request.value("stderr", false);
  bool replay = request.value("logs", false) && !resume, stream = request.value("stream", false) || resume;
  int64_t exits = resume ? request.value("exits", int64_t{0}) : target.exits;
  std::unique_ptr<JsonLogReader> reader;
  if (resume) {
    // The container's own log, or where its removal keeps it: the restarted bridge may be
    // removing a --rm container whose exit it found at its restore, and the record outlives
    // the container's own log files (linked to the kept place first).
    reader = readerAt({target.logPath, containers_.keptLogPath(target.id)}, *resume);
    if (!reader) throw Error(ErrorKind::internal, "the container's log rotated past where the stream was cut");
    if (reader->path() != target.logPath) removedLog = reader->path();  // exited, its log whole
  } else {
    reader = std::make_unique<JsonLogReader>(target.logPath);
    if (!replay) reader->seekEnd();
  }
  writeAll(fd, streams::okLine({{"tty", target.tty}, {"id", target.id}, {"exits", exits}}));

  // The input starts with the stream and ends on every way out of it: a client that sent its
  // input and detached at once may be gone before the first output is written, and what it
  // typed must still reach the container.
  std::atomic<bool> done{false};
  std::thread input;
  struct InputEnd {
    std::atomic<bool>& done;
    std::thread& input;
    int fd;
    ~InputEnd() {
      done = true;
      ::shutdown(fd, SHUT_RDWR);  // ends the input thread's read once what is queued is read
      if (input.joinable()) input.join();
    }
  } inputEnd{done, input, fd};
  if (wantIn && stream) {
    // As dockerd, the end of a TTY attach (a detach, a client gone) leaves stdin open.
    input = std::thread([&, fifo = target.stdinFifo, once = target.stdinOnce && !target.tty, id = target.id] {
      // Read-write: never blocks and never fails for want of a reader, and keeps what is
      // written buffered until the container's shim opens its end.
      // Non-blocking: holding both ends, a write into a full fifo would never fail with EPIPE
      // once the container is gone, and this thread would wait forever; it waits in poll()
      // instead and gives up when the attach ends.
      int in = ::open(fifo.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
      if (in < 0) return;
      char buf[32 * 1024];
      for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        // What was read is written even when the attach has just ended (the detach keys came
        // right behind it); only waiting for room in a full fifo stops at the attach's end.
        size_t off = 0;
        bool abandoned = false;
        while (off < static_cast<size_t>(n)) {
          ssize_t w = ::write(in, buf + off, static_cast<size_t>(n) - off);
          if (w < 0 && errno == EINTR) continue;
          if (w < 0 && errno == EAGAIN) {
            if (done) {
              abandoned = true;
              break;
            }
            pollfd p{in, POLLOUT, 0};
            ::poll(&p, 1, 200);
            continue;
          }
          if (w <= 0) break;
          off += static_cast<size_t>(w);
        }
        if (abandoned) break;
      }
      if (once) {
        // End-of-file is containerd's CloseIO (the shim holds a writer of its own), once the
        // task exists; until then our writer keeps the buffered input alive.
        for (int i = 0; i < 500 && !done; ++i) {
          auto t = containers_.attachTarget(id);
          if (t.status == ContainerStatus::running || t.exits > exits) break;
          std::this_thread::sleep_for(10ms);
        }
      }
      ::close(in);
      if (once) containers_.closeStdin(id, "");
    });
  }

  // Marked: the data in pieces, each followed by the position just after it, so an API that
  // loses this bridge resumes from the last position it relayed.
  LogPosition at = reader->position(), sent{~uint64_t{0}, -1};
  std::string batch;
  auto flush = [&] {
    if (!marked) {
      bool ok = batch.empty() || writeAll(fd, batch);
      batch.clear();
      return ok;
    }
    if (batch.empty() && at.file == sent.file && at.offset == sent.offset) return true;
    std::string out;
    if (!batch.empty()) out = streams::piece(streams::PieceKind::data, batch);
    out += streams::piece(streams::PieceKind::position, json{{"file", at.file}, {"offset", at.offset}}.dump());
    batch.clear();
    sent = at;
    return writeAll(fd, out);
  };
  auto emit = [&](const LogEntry& e) {
    at = e.end;
    if ((e.stream == "stderr" && !wantErr) || (e.stream != "stderr" && !wantOut)) return true;
    batch += render(e, target.tty, false);
    return batch.size() < (64 << 10) || flush();
  };
  auto end = [&] {
    if (marked) writeAll(fd, streams::piece(streams::PieceKind::end, ""));
  };
  bool clientThere = flush();
  if (replay) {
    reader->forEach(-1, [&](const LogEntry& e) { return clientThere = emit(e); });
    clientThere = clientThere && flush();
  }
  if (!clientThere) return;
  if (removedLog) {
    // Removed, or its removal under way: its logger may still be writing the last lines (a
    // removal does not wait for it when the exit's teardown runs apart), so read until the
    // file has been quiet a while, at most as long as a teardown waits for the logger.
    bool emitted = readUntilQuiet(
        *reader,
        [&](const std::vector<LogEntry>& entries) {
          for (const auto& e : entries) {
            if (!emit(e)) return false;
          }
          return flush();
        },
        300ms, 2s);
    if (emitted) end();
    return;
  }
  if (!stream) {
    end();
    return;
  }

  bool finished = false;
  for (;;) {
    bool ok = true;
    for (const auto& e : reader->readNew()) {
      if (!emit(e)) {
        ok = false;
        break;
      }
    }
    ok = ok && flush();
    if (!ok) break;
    if (finished) {
      end();
      break;
    }
    if (peerGone(fd)) break;
    if (containers_.waitExitAfter(target.id, exits, 50ms)) {
      for (int i = 0; i < 100 && !exists(target.loggerDone); ++i) std::this_thread::sleep_for(20ms);
      finished = true;
    }
  }
}

void StreamServer::exec(int fd, const json& request) {
  std::string execId = request.value("id", "");
  if (request.value("detach", false)) {
    containers_.execStart(execId, nullptr, deadlineIn(std::chrono::seconds(60)));
    writeAll(fd, ipc::streams::okLine({{"tty", false}}));
    containers_.execFinish(execId);
    return;
  }
  bool tty = request.value("tty", false), marked = request.value("marked", false);
  bool wantIn = request.value("stdin", false), wantOut = request.value("stdout", false),
       wantErr = request.value("stderr", false);
  std::string base = containers_.execFifoBase(execId);
  ExecIo io;
  io.tty = tty;
  int outFd = -1, errFd = -1, inFd = -1;
  auto cleanup = [&] {
    for (int f : {outFd, errFd, inFd}) {
      if (f >= 0) ::close(f);
    }
    // Those of a start that failed in containerd are the reaper's now (ExecIo).
    for (const std::string* fifo : {&io.stdinFifo, &io.stdoutFifo, &io.stderrFifo}) {
      if (!fifo->empty()) ::unlink(fifo->c_str());
    }
  };
  auto makeFifo = [&](const std::string& path) {
    ::unlink(path.c_str());
    if (::mkfifo(path.c_str(), 0600) != 0) throw Error(ErrorKind::internal, "mkfifo " + path + ": " + std::strerror(errno));
  };
  try {
    if (wantOut || tty) {
      io.stdoutFifo = base + "-stdout";
      makeFifo(io.stdoutFifo);
      outFd = ::open(io.stdoutFifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    }
    if (wantErr && !tty) {
      io.stderrFifo = base + "-stderr";
      makeFifo(io.stderrFifo);
      errFd = ::open(io.stderrFifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    }
    if (wantIn) {
      io.stdinFifo = base + "-stdin";
      makeFifo(io.stdinFifo);
      inFd = ::open(io.stdinFifo.c_str(), O_RDWR | O_CLOEXEC);
    }
    containers_.execStart(execId, &io, deadlineIn(std::chrono::seconds(60)));
  } catch (...) {
    cleanup();
    throw;
  }
  writeAll(fd, ipc::streams::okLine({{"tty", tty}}));
  // One thread relays all three streams, so no write may block: the stdin fifo is written
  // non-blocking from a bounded buffer, and the client is read only while that buffer has
  // room. A process that fills stdout without reading stdin can no longer stall its own output
  // (a blocking write into a full stdin fifo stopped the loop that drains stdout).
  constexpr size_t kMaxPendingInput = 1 << 20;
  if (inFd >= 0) ::fcntl(inFd, F_SETFL, ::fcntl(inFd, F_GETFL) | O_NONBLOCK);
  std::string pendingIn;
  bool clientOpen = true, clientEnded = false;
  auto endInput = [&] {
    ::close(inFd);
    inFd = -1;
    pendingIn.clear();
    // As dockerd: the end of a TTY session (a detach, a client gone) leaves the terminal to the
    // process; without a TTY it is the end of the process's input.
    if (!tty) containers_.closeStdin(containers_.execInspect(execId).value("ContainerID", ""), execId);
  };
  char buf[32 * 1024];
  while (outFd >= 0 || errFd >= 0) {
    std::vector<pollfd> fds;
    if (outFd >= 0) fds.push_back({outFd, POLLIN, 0});
    if (errFd >= 0) fds.push_back({errFd, POLLIN, 0});
    if (clientOpen && inFd >= 0 && pendingIn.size() < kMaxPendingInput) fds.push_back({fd, POLLIN, 0});
    if (inFd >= 0 && !pendingIn.empty()) fds.push_back({inFd, POLLOUT, 0});
    if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) break;
    for (const auto& p : fds) {
      if (!p.revents) continue;
      if (p.fd != fd && p.fd != outFd && p.fd != errFd && p.fd != inFd) continue;  // closed in this round
      if (p.fd == inFd && (p.events & POLLOUT)) {
        ssize_t w = ::write(inFd, pendingIn.data(), pendingIn.size());
        if (w > 0) pendingIn.erase(0, static_cast<size_t>(w));
        else if (w < 0 && errno != EAGAIN && errno != EINTR) endInput();  // the process closed its stdin
        if (inFd >= 0 && clientEnded && pendingIn.empty()) endInput();
        continue;
      }
      ssize_t n = ::read(p.fd, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (p.fd == fd) {
        if (n <= 0) {
          clientOpen = false;
          clientEnded = true;
          if (pendingIn.empty()) endInput();  // else once what the client sent is delivered
        } else {
          pendingIn.append(buf, static_cast<size_t>(n));
        }
        continue;
      }
      int stream = p.fd == errFd ? 2 : 1;
      if (n <= 0) {
        ::close(p.fd);
        (p.fd == outFd ? outFd : errFd) = -1;
        continue;
      }
      std::string data(buf, static_cast<size_t>(n));
      if (!tty) data = frameStream(stream, data);
      if (marked) data = ipc::streams::piece(ipc::streams::PieceKind::data, data);
      if (!writeAll(fd, data)) {
        // The client left: the process keeps running, as with dockerd.
      }
    }
  }
  containers_.execFinish(execId);
  cleanup();
  // Marked: the exec's code is recorded, so the API may let its client ask for it.
  if (marked) writeAll(fd, ipc::streams::piece(ipc::streams::PieceKind::end, ""));
}

}  // namespace berth::bridge

namespace berth::bridge {

// berth-archive gets the connection as its stdin and stdout: the tar stream never passes
// through the bridge. A stopped container stays held (no start, no removal) until it exits.
void StreamServer::archive(int fd, const json& request) {
  std::string op = request.value("mode", "");
  if (op != "stat" && op != "get" && op != "put") throw Error(ErrorKind::invalid, "unknown archive mode: " + op);
  if (!request.contains("path") || !request["path"].is_string()) throw Error(ErrorKind::invalid, "path is required");
  std::string ref = request.value("id", "");
  auto access = containers_.filesystemAccess(ref, deadlineIn(std::chrono::seconds(60)));
  json job = {{"op", op},
              {"path", request["path"]},
              {"container", ref},
              {"rootfs", access.rootfs},
              {"readonly", access.readonlyRootfs},
              {"binds", access.binds},
              {"user", access.user},
              {"noOverwriteDirNonDir", request.value("noOverwriteDirNonDir", false)},
              {"copyUidGid", request.value("copyUidGid", false)}};
  if (access.mount) {
    job["mount"] = {{"type", access.mount->type}, {"source", access.mount->source}, {"options", access.mount->options}};
  }
  std::string arg = job.dump();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fd, 0);
  posix_spawn_file_actions_adddup2(&actions, fd, 1);
  char* argv[] = {const_cast<char*>(archiveBinary_.c_str()), arg.data(), nullptr};
  char* envp[] = {nullptr};
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, archiveBinary_.c_str(), &actions, nullptr, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw Error(ErrorKind::internal, "spawn " + archiveBinary_ + ": " + std::strerror(rc));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    spdlog::debug("streams: archive {} of {} ended with status {}", op, ref, status);
  }
}

}  // namespace berth::bridge
