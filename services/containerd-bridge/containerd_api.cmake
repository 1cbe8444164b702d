# containerd's gRPC API, generated at build time from the .proto files Debian's
# golang-github-containerd-containerd-dev installs (never copied into this repository).
find_program(PROTOC protoc REQUIRED)
find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)

set(CONTAINERD_GOPATH /usr/share/gocode/src)
set(CONTAINERD_API ${CONTAINERD_GOPATH}/github.com/containerd/containerd/api)
set(PROTO_ROOT ${CMAKE_BINARY_DIR}/containerd-protos)
set(CONTAINERD_PROTOS
  services/version/v1/version.proto
  services/namespaces/v1/namespace.proto
  services/containers/v1/containers.proto
  services/tasks/v1/tasks.proto
  services/events/v1/events.proto
  services/leases/v1/leases.proto
  services/snapshots/v1/snapshots.proto
  types/mount.proto
  types/metrics.proto
  types/descriptor.proto
  types/platform.proto
  types/task/task.proto
  events/task.proto
  events/container.proto
)
if(NOT EXISTS ${CONTAINERD_API}/services/version/v1/version.proto)
  message(FATAL_ERROR "containerd's API protos are missing: install golang-github-containerd-containerd-dev")
endif()

set(CONTAINERD_SRCS)
set(STRIPPED)
foreach(proto ${CONTAINERD_PROTOS})
  set(out ${PROTO_ROOT}/github.com/containerd/containerd/api/${proto})
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DIN=${CONTAINERD_API}/${proto} -DOUT=${out} -P ${CMAKE_SOURCE_DIR}/cmake/strip_gogo.cmake
    DEPENDS ${CONTAINERD_API}/${proto} ${CMAKE_SOURCE_DIR}/cmake/strip_gogo.cmake
    COMMENT "Preparing containerd ${proto}")
  list(APPEND STRIPPED ${out})
endforeach()
# google.rpc.Status, and the well-known types the API imports, go through the same copy: a lite
# file's imports must be lite too for the bridge to need no more than libprotobuf-lite, and
# libprotobuf-lite has no well-known types of its own. They are generated into the build tree,
# whose headers come before /usr/include's.
set(OTHER_PROTOS google/rpc/status.proto google/protobuf/any.proto google/protobuf/empty.proto
  google/protobuf/field_mask.proto google/protobuf/timestamp.proto)
foreach(proto ${OTHER_PROTOS})
  if(proto MATCHES "^google/rpc/")
    set(src ${CONTAINERD_GOPATH}/github.com/gogo/googleapis/${proto})
  else()
    set(src ${Protobuf_INCLUDE_DIR}/${proto})
  endif()
  add_custom_command(OUTPUT ${PROTO_ROOT}/${proto}
    COMMAND ${CMAKE_COMMAND} -DIN=${src} -DOUT=${PROTO_ROOT}/${proto} -P ${CMAKE_SOURCE_DIR}/cmake/strip_gogo.cmake
    DEPENDS ${src} ${CMAKE_SOURCE_DIR}/cmake/strip_gogo.cmake
    COMMENT "Preparing ${proto}")
  list(APPEND STRIPPED ${PROTO_ROOT}/${proto})
endforeach()

set(GEN_DIR ${CMAKE_BINARY_DIR}/containerd-gen)
foreach(proto ${CONTAINERD_PROTOS} ${OTHER_PROTOS})
  if(proto MATCHES "^google/")
    string(REGEX REPLACE "\\.proto$" "" rel ${proto})
  else()
    set(rel github.com/containerd/containerd/api/${proto})
    string(REGEX REPLACE "\\.proto$" "" rel ${rel})
  endif()
  set(outs ${GEN_DIR}/${rel}.pb.cc ${GEN_DIR}/${rel}.pb.h)
  set(grpc_args)
  if(proto MATCHES "^services/")
    list(APPEND outs ${GEN_DIR}/${rel}.grpc.pb.cc ${GEN_DIR}/${rel}.grpc.pb.h)
    set(grpc_args --grpc_out=${GEN_DIR} --plugin=protoc-gen-grpc=${GRPC_CPP_PLUGIN})
  endif()
  add_custom_command(OUTPUT ${outs}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${GEN_DIR}
    COMMAND ${PROTOC} -I${PROTO_ROOT} --cpp_out=${GEN_DIR} ${grpc_args} ${PROTO_ROOT}/${rel}.proto
    DEPENDS ${STRIPPED}
    COMMENT "Generating C++ for ${rel}.proto")
  foreach(o ${outs})
    if(o MATCHES "\\.cc$")
      list(APPEND CONTAINERD_SRCS ${o})
    endif()
  endforeach()
endforeach()

# Nothing that links containerd_api may link the full libprotobuf: it defines the well-known
# types too, and two definitions of google::protobuf::Any in one program is an ODR violation.
add_library(containerd_api STATIC ${CONTAINERD_SRCS})
target_include_directories(containerd_api SYSTEM PUBLIC ${GEN_DIR})
target_compile_options(containerd_api PRIVATE -w)
# containerd is reached over its local unix socket with insecure credentials, so the bridge
# links gRPC's build without TLS (grpc_unsecure: no OpenSSL, no RE2, fewer plugins set up at
# start). gRPC's CMake package has grpc++ pull in the full libprotobuf, which libgrpc++ itself
# does not link: loaded beside the lite copies of the well-known types above, its own copies
# would register descriptors the bridge never reads. So libgrpc++_unsecure is linked by its
# file, with what it does need (libgrpc_unsecure and its dependencies).
target_link_libraries(containerd_api PUBLIC $<TARGET_FILE:gRPC::grpc++_unsecure> gRPC::grpc_unsecure
  protobuf::libprotobuf-lite)
