# Every dependency comes from a Debian 12 package (scripts/install-deps.sh).
# The same list feeds orchConfig.cmake, so an installed orch finds what it was built with.
find_package(Threads REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(Protobuf REQUIRED)          # Debian ships no protobuf config package
find_package(gRPC CONFIG REQUIRED)       # CRI client stubs (orch/runtime/v1/api.grpc.pb.h)
find_package(yaml-cpp CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(CURL REQUIRED)             # HTTP scheduler extenders

set(ORCH_PUBLIC_DEPS
  absl::status absl::statusor absl::strings absl::str_format absl::time absl::synchronization
  absl::flat_hash_map absl::flat_hash_set absl::btree absl::span absl::optional
  absl::random_random absl::hash absl::cord absl::any_invocable
  protobuf::libprotobuf gRPC::grpc++ Threads::Threads)
set(ORCH_PRIVATE_DEPS yaml-cpp fmt::fmt CURL::libcurl)
