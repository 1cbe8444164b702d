// The fields of dockerd's request structs (api/types/container, as of API 1.43) that berth checks,
// with the Go types and struct names encoding/json puts in its errors (seen on the reference
// dockerd 20.10: "json: cannot unmarshal number 2e48 into Go struct field
// Ulimit.HostConfig.Ulimits.Hard of type int64").
#include "services/containerd-bridge/request_types.h"

#include <string>
#include <vector>

#include "common/go_json_types.h"

namespace berth::bridge {
namespace {

// container.Resources, which HostConfig and UpdateConfig embed: its fields are the embedding
// struct's in Go's errors ("HostConfig.HostConfig.Memory", "UpdateConfig.Memory"), its lists'
// elements their own structs.
void addResources(std::vector<GoField>& fields, const std::string& prefix, const std::string& goStruct) {
  for (const char* name : {"CpuShares", "Memory", "NanoCpus", "CpuPeriod", "CpuQuota", "CpuRealtimePeriod",
                           "CpuRealtimeRuntime", "KernelMemory", "KernelMemoryTCP", "MemoryReservation", "MemorySwap",
                           "MemorySwappiness", "PidsLimit", "CpuCount", "CpuPercent"}) {
    fields.push_back({prefix + name, goStruct, GoType::int64});
  }
  fields.push_back({prefix + "BlkioWeight", goStruct, GoType::uint16});
  fields.push_back({prefix + "BlkioWeightDevice[].Weight", "WeightDevice", GoType::uint16});
  for (const char* name : {"BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps"}) {
    fields.push_back({prefix + name + "[].Rate", "ThrottleDevice", GoType::uint64});
  }
  fields.push_back({prefix + "IOMaximumIOps", goStruct, GoType::uint64});
  fields.push_back({prefix + "IOMaximumBandwidth", goStruct, GoType::uint64});
  fields.push_back({prefix + "Ulimits[].Hard", "Ulimit", GoType::int64});
  fields.push_back({prefix + "Ulimits[].Soft", "Ulimit", GoType::int64});
}

std::vector<GoField> createFields() {
  // Config is embedded in dockerd's ContainerConfigWrapper, which names its fields.
  std::vector<GoField> fields = {{"StopTimeout", "ContainerConfigWrapper", GoType::int_}};
  for (const char* name : {"Interval", "Timeout", "StartPeriod", "StartInterval"}) {
    fields.push_back({std::string("Healthcheck.") + name, "HealthConfig", GoType::duration});
  }
  fields.push_back({"Healthcheck.Retries", "HealthConfig", GoType::int_});
  fields.push_back({"HostConfig.ConsoleSize[]", "HostConfig", GoType::uint});
  fields.push_back({"HostConfig.RestartPolicy.MaximumRetryCount", "RestartPolicy", GoType::int_});
  fields.push_back({"HostConfig.OomScoreAdj", "HostConfig", GoType::int_});
  fields.push_back({"HostConfig.ShmSize", "HostConfig", GoType::int64});
  addResources(fields, "HostConfig.", "HostConfig");
  fields.push_back({"HostConfig.Mounts[].TmpfsOptions.SizeBytes", "TmpfsOptions", GoType::int64});
  fields.push_back({"HostConfig.Mounts[].TmpfsOptions.Mode", "TmpfsOptions", GoType::fileMode});
  return fields;
}

std::vector<GoField> updateFields() {
  std::vector<GoField> fields;
  addResources(fields, "", "UpdateConfig");
  fields.push_back({"RestartPolicy.MaximumRetryCount", "RestartPolicy", GoType::int_});
  return fields;
}

std::vector<GoField> execFields() {
  std::vector<GoField> fields;
  for (const char* name : {"AttachStdin", "AttachStdout", "AttachStderr", "Tty", "Detach", "Privileged"}) {
    fields.push_back({name, "ExecConfig", GoType::boolean});
  }
  for (const char* name : {"User", "WorkingDir", "DetachKeys"}) fields.push_back({name, "ExecConfig", GoType::string});
  fields.push_back({"Cmd", "ExecConfig", GoType::strSlice});
  fields.push_back({"Env", "ExecConfig", GoType::stringList});
  return fields;
}

}  // namespace

void checkCreateBodyTypes(const nlohmann::json& body) {
  static const std::vector<GoField> fields = createFields();
  checkGoTypes(body, fields);
}

void checkUpdateBodyTypes(const nlohmann::json& body) {
  static const std::vector<GoField> fields = updateFields();
  checkGoTypes(body, fields);
}

void checkExecBodyTypes(const nlohmann::json& body) {
  static const std::vector<GoField> fields = execFields();
  checkGoTypes(body, fields);
}

}  // namespace berth::bridge
