// encoding/json's verdict on a body's fields: their kinds, and whether an integer type holds the
// number (strconv.ParseInt or ParseUint on the number's text, then the type's bounds).
#include "common/go_json_types.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string_view>

#include "common/errors.h"

namespace berth {
namespace {

using json = nlohmann::json;

// The smallest and largest value of an integer type.
std::pair<int64_t, uint64_t> bounds(GoType type) {
  switch (type) {
    case GoType::uint:
    case GoType::uint64: return {0, std::numeric_limits<uint64_t>::max()};
    case GoType::uint16: return {0, std::numeric_limits<uint16_t>::max()};
    case GoType::fileMode: return {0, std::numeric_limits<uint32_t>::max()};
    default: return {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
  }
}

bool holds(GoType type, const json& v) {
  auto [lowest, highest] = bounds(type);
  if (v.is_number_unsigned()) return v.get<uint64_t>() <= highest;
  if (v.is_number_integer()) return v.get<int64_t>() >= lowest;  // negative: below every highest
  return false;  // a float, whatever its value: Go parses integers only from integer text
}

// The number as a client would have written it, where Go's error quotes the client's text and
// nlohmann keeps only the value: an integer exactly; a float in the shorter of its plain and
// scientific forms, with Go's exponent (2e48, 1e10, 1.5, 1.0, -1e-5; nlohmann prints 2e+48 and
// 10000000000.0).
std::string numberText(const json& v) {
  std::string text = v.dump();
  if (!v.is_number_float()) return text;
  std::string sign = text.front() == '-' ? "-" : "";
  std::string mantissa = text.substr(sign.size());
  int exponent = 0;
  auto e = mantissa.find_first_of("eE");
  if (e != std::string::npos) {
    exponent = std::stoi(mantissa.substr(e + 1));
    mantissa.resize(e);
  }
  std::string plain = e == std::string::npos ? text : sign + mantissa + "e" + std::to_string(exponent);
  // The value as digits × 10^power, without leading or trailing zeros.
  std::string digits;
  int power = exponent;
  auto point = mantissa.find('.');
  for (size_t i = 0; i < mantissa.size(); ++i) {
    if (i == point) continue;
    digits += mantissa[i];
    if (point != std::string::npos && i > point) --power;
  }
  digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size()));
  while (!digits.empty() && digits.back() == '0') {
    digits.pop_back();
    ++power;
  }
  if (digits.empty()) return plain;
  std::string scientific = sign + digits.substr(0, 1) + (digits.size() > 1 ? "." + digits.substr(1) : "") + "e" +
                           std::to_string(power + static_cast<int>(digits.size()) - 1);
  return scientific.size() < plain.size() ? scientific : plain;
}

// What encoding/json says it could not unmarshal: the value's kind, and a number's text when
// the target is a number.
std::string what(const json& v, bool numberTarget) {
  if (v.is_string()) return "string";
  if (v.is_boolean()) return "bool";
  if (v.is_array()) return "array";
  if (v.is_object()) return "object";
  return numberTarget ? "number " + numberText(v) : "number";
}

// Go's verdict on one value for `field`, named `name` ("HostConfig.Ulimits.Hard").
std::optional<std::string> judge(const json& v, const GoField& field, const std::string& name) {
  auto refuse = [&](const json& value, const char* typeName) {
    return "json: cannot unmarshal " + what(value, false) + " into Go struct field " + field.goStruct + "." + name +
           " of type " + typeName;
  };
  switch (field.type) {
    case GoType::boolean:
      if (!v.is_boolean()) return refuse(v, "bool");
      return std::nullopt;
    case GoType::string:
      if (!v.is_string()) return refuse(v, "string");
      return std::nullopt;
    case GoType::stringList:
    case GoType::strSlice:
      if (v.is_string() && field.type == GoType::strSlice) return std::nullopt;
      if (!v.is_array()) return refuse(v, goTypeName(field.type));
      for (const auto& e : v) {
        if (!e.is_null() && !e.is_string()) return refuse(e, "string");
      }
      return std::nullopt;
    default:
      if (holds(field.type, v)) return std::nullopt;
      return "json: cannot unmarshal " + what(v, true) + " into Go struct field " + field.goStruct + "." + name +
             " of type " + goTypeName(field.type);
  }
}

std::optional<std::string> walk(const json& node, std::string_view rest, const GoField& field, const std::string& name) {
  auto dot = rest.find('.');
  std::string_view key = rest.substr(0, dot);
  bool list = key.size() > 2 && key.substr(key.size() - 2) == "[]";
  if (list) key.remove_suffix(2);
  if (!node.is_object()) return std::nullopt;
  auto it = node.find(std::string(key));
  if (it == node.end() || it->is_null()) return std::nullopt;
  std::string here = name.empty() ? std::string(key) : name + "." + std::string(key);
  auto next = [&](const json& value) -> std::optional<std::string> {
    if (dot == std::string_view::npos) return judge(value, field, here);
    return walk(value, rest.substr(dot + 1), field, here);
  };
  if (!list) return next(*it);
  if (!it->is_array()) return std::nullopt;
  for (const auto& element : *it) {
    if (element.is_null()) continue;
    if (auto error = next(element)) return error;
  }
  return std::nullopt;
}

}  // namespace

const char* goTypeName(GoType type) {
  switch (type) {
    case GoType::boolean: return "bool";
    case GoType::string: return "string";
    case GoType::stringList: return "[]string";
    case GoType::strSlice: return "strslice.StrSlice";
    case GoType::int_: return "int";
    case GoType::int64: return "int64";
    case GoType::duration: return "time.Duration";
    case GoType::uint: return "uint";
    case GoType::uint16: return "uint16";
    case GoType::fileMode: return "fs.FileMode";
    case GoType::uint64: return "uint64";
  }
  return "unknown";
}

std::optional<std::string> goDecodeError(const json& body, const std::vector<GoField>& fields) {
  for (const auto& field : fields) {
    if (auto error = walk(body, field.path, field, "")) return error;
  }
  return std::nullopt;
}

void checkGoTypes(const json& body, const std::vector<GoField>& fields) {
  if (auto error = goDecodeError(body, fields)) throw Error(ErrorKind::invalid, *error);
}

std::optional<int64_t> int64Of(const json& v) {
  if (!holds(GoType::int64, v)) return std::nullopt;
  return v.get<int64_t>();
}

int64_t int64Within(const json& v, int64_t lowest, int64_t highest, int64_t fallback) {
  auto n = int64Of(v);
  return n ? std::clamp(*n, lowest, highest) : fallback;
}

}  // namespace berth
