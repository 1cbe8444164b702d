// The Go types dockerd decodes the bodies of create, update and exec into, checked before the
// core reads any of them: a field of another kind, or a number its integer type cannot hold, is
// refused as dockerd's encoding/json refuses it, before anything is created or changed.
#pragma once

#include <nlohmann/json.hpp>

namespace berth::bridge {

// POST /containers/create (ContainerConfigWrapper: Config, HostConfig, NetworkingConfig): every
// integer field berth or dockerd reads. Throws Error(invalid, "json: cannot unmarshal …").
void checkCreateBodyTypes(const nlohmann::json& body);

// POST /containers/{id}/update (UpdateConfig: Resources and RestartPolicy).
void checkUpdateBodyTypes(const nlohmann::json& body);

// POST /containers/{id}/exec (ExecConfig): its booleans, strings and string lists.
void checkExecBodyTypes(const nlohmann::json& body);

}  // namespace berth::bridge
