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
set(STATUS_PROTO ${PROTO_ROOT}/google/rpc/status.proto)
add_custom_command(OUTPUT ${STATUS_PROTO}
  COMMAND ${CMAKE_COMMAND} -E copy ${CONTAINERD_GOPATH}/github.com/gogo/googleapis/google/rpc/status.proto ${STATUS_PROTO}
  DEPENDS ${CONTAINERD_GOPATH}/github.com/gogo/googleapis/google/rpc/status.proto)
list(APPEND STRIPPED ${STATUS_PROTO})

set(GEN_DIR ${CMAKE_BINARY_DIR}/containerd-gen)
foreach(proto ${CONTAINERD_PROTOS} google/rpc/status.proto)
  if(proto STREQUAL "google/rpc/status.proto")
    set(rel google/rpc/status)
  else()
    set(rel github.com/containerd/containerd/api/${proto})
    string(REGEX REPLACE "\\.proto$" "" rel ${rel})
  endif()
  set(outs ${GEN_DIR}/${rel}.pb.cc ${GEN_DIR}/${rel}.pb.h)
  if(proto MATCHES "^services/")
    list(APPEND outs ${GEN_DIR}/${rel}.grpc.pb.cc ${GEN_DIR}/${rel}.grpc.pb.h)
  endif()
  add_custom_command(OUTPUT ${outs}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${GEN_DIR}
    COMMAND ${PROTOC} -I${PROTO_ROOT} -I/usr/include --cpp_out=${GEN_DIR} --grpc_out=${GEN_DIR}
            --plugin=protoc-gen-grpc=${GRPC_CPP_PLUGIN} ${PROTO_ROOT}/${rel}.proto
    DEPENDS ${STRIPPED}
    COMMENT "Generating C++ for ${rel}.proto")
  foreach(o ${outs})
    if(o MATCHES "\\.cc$")
      list(APPEND CONTAINERD_SRCS ${o})
    endif()
  endforeach()
endforeach()

add_library(containerd_api STATIC ${CONTAINERD_SRCS})
target_include_directories(containerd_api SYSTEM PUBLIC ${GEN_DIR})
target_compile_options(containerd_api PRIVATE -w)
target_link_libraries(containerd_api PUBLIC gRPC::grpc++ protobuf::libprotobuf)
