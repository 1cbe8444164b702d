#include "common/log.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <sys/stat.h>
#include <syslog.h>

#include <cstdlib>
#include <mutex>

#include "common/journal.h"

namespace berth {
namespace {

// Sends each record to the journal with the service name as a field of its own, so
// `journalctl BERTH_SERVICE=images` selects one service.
class JournalSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit JournalSink(std::string service) : service_(std::move(service)), identifier_("berth-" + service_) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    int priority = LOG_INFO;
    switch (msg.level) {
      case spdlog::level::trace:
      case spdlog::level::debug: priority = LOG_DEBUG; break;
      case spdlog::level::info: priority = LOG_INFO; break;
      case spdlog::level::warn: priority = LOG_WARNING; break;
      case spdlog::level::err: priority = LOG_ERR; break;
      case spdlog::level::critical: priority = LOG_CRIT; break;
      default: break;
    }
    std::string level = std::to_string(priority);
    journal_.send({{"MESSAGE", std::string_view(msg.payload.data(), msg.payload.size())},
                   {"PRIORITY", level},
                   {"SYSLOG_IDENTIFIER", identifier_},
                   {"BERTH_SERVICE", service_}});
  }
  void flush_() override {}

 private:
  std::string service_;
  std::string identifier_;
  JournalWriter journal_;
};

// systemd sets JOURNAL_STREAM to "dev:inode" of the stream it connected to our stderr.
bool stderrIsJournal() {
  const char* js = std::getenv("JOURNAL_STREAM");
  if (!js) return false;
  struct stat st {};
  if (fstat(2, &st) != 0) return false;
  std::string expected = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  return expected == js;
}

}  // namespace

void setupLogging(const std::string& service, const std::string& level) {
  std::shared_ptr<spdlog::logger> logger;
  if (stderrIsJournal()) {
    logger = std::make_shared<spdlog::logger>(service, std::make_shared<JournalSink>(service));
    logger->set_pattern("%v");
  } else {
    logger = std::make_shared<spdlog::logger>(service, std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n %P] %v");
  }
  spdlog::level::level_enum lvl = spdlog::level::info;
  if (level == "debug") lvl = spdlog::level::debug;
  else if (level == "warn") lvl = spdlog::level::warn;
  else if (level == "error") lvl = spdlog::level::err;
  else if (level == "fatal") lvl = spdlog::level::critical;
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace berth
