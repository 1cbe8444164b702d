#include "services/containerd-bridge/log_config.h"

#include <cctype>
#include <set>

#include "common/errors.h"

namespace berth::bridge {

using json = nlohmann::json;

namespace {

// The drivers dockerd 20.10 registers on Linux that berth does not implement.
const std::set<std::string> kOtherDrivers = {"syslog", "journald", "gelf",  "fluentd",   "awslogs",
                                             "splunk", "gcplogs",  "logentries", "etwlogs"};

const std::set<std::string>& optionsOf(const std::string& driver) {
  static const std::set<std::string> jsonFile = {"max-file", "max-size", "compress", "labels", "labels-regex",
                                                 "env",      "env-regex", "tag"};
  static const std::set<std::string> local = {"max-file", "max-size", "compress"};
  static const std::set<std::string> none = {};
  if (driver == "local") return local;
  if (driver == "none") return none;
  return jsonFile;
}

Error failed(const std::string& why) { return Error(ErrorKind::invalid, "failed to initialize logging driver: " + why); }

}  // namespace

uint64_t parseRamSize(const std::string& text) {
  // ^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$, binary multipliers.
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  std::string number = text.substr(0, i);
  if (number.empty() || number.front() == '.' || number.back() == '.') throw failed("invalid size: '" + text + "'");
  if (i < text.size() && text[i] == ' ') ++i;
  uint64_t multiplier = 1;
  if (i < text.size()) {
    switch (std::tolower(static_cast<unsigned char>(text[i]))) {
      case 'k': multiplier = 1ULL << 10; ++i; break;
      case 'm': multiplier = 1ULL << 20; ++i; break;
      case 'g': multiplier = 1ULL << 30; ++i; break;
      case 't': multiplier = 1ULL << 40; ++i; break;
      case 'p': multiplier = 1ULL << 50; ++i; break;
      default: break;
    }
  }
  if (i < text.size() && std::tolower(static_cast<unsigned char>(text[i])) == 'i') ++i;
  if (i < text.size() && std::tolower(static_cast<unsigned char>(text[i])) == 'b') ++i;
  if (i != text.size()) throw failed("invalid size: '" + text + "'");
  double value = 0;
  try {
    value = std::stod(number);
  } catch (const std::exception&) {
    throw failed("invalid size: '" + text + "'");
  }
  return static_cast<uint64_t>(value * static_cast<double>(multiplier));
}

json validateLogConfig(const json& logConfig) {
  json config = logConfig.is_object() ? logConfig : json::object();
  std::string driver = config.contains("Type") && config["Type"].is_string() ? config["Type"].get<std::string>() : "";
  if (driver.empty()) driver = "json-file";
  json options = config.contains("Config") && config["Config"].is_object() ? config["Config"] : json::object();
  if (driver != "json-file" && driver != "local" && driver != "none") {
    if (kOtherDrivers.count(driver)) {
      throw Error(ErrorKind::invalid, "berth does not support the " + driver + " log driver (json-file, local and none are supported)");
    }
    throw Error(ErrorKind::notFound, "error looking up logging plugin " + driver + ": plugin \"" + driver + "\" not found");
  }
  for (auto it = options.begin(); it != options.end(); ++it) {
    if (!it->is_string()) throw Error(ErrorKind::invalid, "log opt '" + it.key() + "' must be a string");
    if (!optionsOf(driver).count(it.key())) {
      throw Error(ErrorKind::invalid, "unknown log opt '" + it.key() + "' for " + driver + " log driver");
    }
  }
  return {{"Type", driver}, {"Config", options}};
}

LogSettings logSettings(const json& logConfig) {
  json config = validateLogConfig(logConfig);
  LogSettings s;
  s.driver = config["Type"];
  const json& options = config["Config"];
  if (s.driver == "none") {
    // No log to read, but attach reads what the container writes: a small rolling buffer.
    s.readable = false;
    s.maxSize = 1 << 20;
    s.maxFiles = 1;
    return s;
  }
  if (options.contains("max-size")) s.maxSize = parseRamSize(options["max-size"].get<std::string>());
  if (options.contains("max-file")) {
    std::string text = options["max-file"];
    int n = 0;
    try {
      size_t used = 0;
      n = std::stoi(text, &used);
      if (used != text.size()) throw std::invalid_argument(text);
    } catch (const std::exception&) {
      throw failed("strconv.Atoi: parsing \"" + text + "\": invalid syntax");
    }
    if (n < 1) throw failed("max-file cannot be less than 1");
    s.maxFiles = static_cast<unsigned>(n);
  }
  if (options.contains("compress")) {
    std::string text = options["compress"];
    static const std::set<std::string> goBools = {"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"};
    if (!goBools.count(text)) throw failed("strconv.ParseBool: parsing \"" + text + "\": invalid syntax");
  }
  return s;
}

}  // namespace berth::bridge
