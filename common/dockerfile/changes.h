// `docker commit --change` (and `docker import --change`): Dockerfile instructions applied to a
// container Config, with the semantics of dockerd's builder/dockerfile BuildFromConfig.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace berth::dockerfile {

// Applies `changes`, the `changes` query values of POST /commit (or /images/create?fromSrc=),
// to `config`, a Docker container Config object (Cmd, Entrypoint, Env, ExposedPorts, Labels,
// User, WorkingDir, Volumes, StopSignal, OnBuild, Healthcheck; Shell is read for shell form).
//
// As dockerd does, the values are joined with "\n" and parsed as one Dockerfile: a value may hold
// several lines, comments and line continuations, and an empty list changes nothing. Only CMD,
// ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME and WORKDIR are
// allowed. $VAR and ${VAR...} in ENV, LABEL, EXPOSE, USER, WORKDIR, VOLUME and STOPSIGNAL are
// substituted from the config's Env as it stood before that instruction.
//
// The input is untrusted client text. Throws an invalid Error carrying dockerd's message (for
// example "RUN is not a valid change command"); `config` is then left exactly as it was. A null
// `config` counts as an empty one; any other non-object is refused.
void applyChanges(nlohmann::json& config, const std::vector<std::string>& changes);

}  // namespace berth::dockerfile
