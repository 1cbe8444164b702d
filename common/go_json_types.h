// What Go's encoding/json refuses when dockerd decodes a request body into its structs: a value
// of another kind than the field's type, or a number the field's integer type cannot hold (a
// float, 2e48 or 1.5, for an int64; 70000 for a uint16; -1 for a uint64). berth keeps bodies as
// JSON documents, where nlohmann's get<int64_t> of such a float is undefined behaviour; a body is
// checked against a table of its fields' Go types before anything reads it, and refused in
// encoding/json's words.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace berth {

// A Go type a field is decoded into; its name in errors is encoding/json's (goTypeName).
enum class GoType {
  boolean,     // bool
  string,      // string
  stringList,  // []string: a list of strings
  strSlice,    // strslice.StrSlice: a string or a list of strings
  int_,        // int (64 bits, as dockerd is built for amd64)
  int64,       // int64
  duration,    // time.Duration: int64 nanoseconds
  uint,        // uint (64 bits)
  uint16,      // uint16
  fileMode,    // fs.FileMode: uint32
  uint64,      // uint64
};

// One field of a body as dockerd's struct declares it.
struct GoField {
  // JSON keys from the body's root, joined by '.'; a key followed by "[]" is a list whose every
  // element the rest of the path applies to ("HostConfig.Ulimits[].Hard").
  std::string path;
  // The Go struct that declares the field, as encoding/json names it: the innermost struct
  // ("Ulimit" for HostConfig.Ulimits[].Hard; "ContainerConfigWrapper" for a field dockerd's
  // wrapper promotes from the Config it embeds).
  std::string goStruct;
  GoType type;
};

// encoding/json's name for `type` in its errors ("int64", "time.Duration", "fs.FileMode").
const char* goTypeName(GoType type);

// The error encoding/json gives for the first field of `fields`, in their order, whose value it
// would not decode: "json: cannot unmarshal number 2e48 into Go struct field
// Ulimit.HostConfig.Ulimits.Hard of type int64". An absent or null field is left unset, as Go
// leaves it. A path through a value of another kind (a HostConfig that is a string) is not
// followed: the code that reads it judges it. Go quotes the number's text, which nlohmann does
// not keep: an integer is exact, a float the shorter of its plain and scientific forms (1.5,
// 2e48, 1e10: the client's text for the usual forms, not for every one: 1E3 and 1000.0 are 1e3).
// nullopt when every field decodes.
std::optional<std::string> goDecodeError(const nlohmann::json& body, const std::vector<GoField>& fields);

// goDecodeError as an Error(invalid, …): what the API answers with a 400.
void checkGoTypes(const nlohmann::json& body, const std::vector<GoField>& fields);

// `v` when it is an integer int64 holds; nullopt for anything else (absent, null, a float, a
// number beyond int64, another kind). How a number is read where no check came first (records,
// image configs), never nlohmann's get<int64_t>, whose cast of a float beyond range is undefined.
std::optional<int64_t> int64Of(const nlohmann::json& v);

// int64Of(v) brought within [lowest, highest]; `fallback` where int64Of gives nothing.
int64_t int64Within(const nlohmann::json& v, int64_t lowest, int64_t highest, int64_t fallback);

}  // namespace berth
