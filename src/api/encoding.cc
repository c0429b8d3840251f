#include "orch/api/encoding.h"

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace orch::api {
namespace {

// Writes `message` whose size was just computed as `size` (its cached sizes are fresh).
std::string WriteSized(const google::protobuf::Message& message, size_t size) {
  std::string bytes(size, '\0');
  google::protobuf::io::ArrayOutputStream stream(bytes.data(), static_cast<int>(size));
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  message.SerializeWithCachedSizes(&coded);
  return bytes;
}

}  // namespace

std::string DeterministicBytes(const google::protobuf::Message& message) {
  return WriteSized(message, message.ByteSizeLong());
}

bool SameMessage(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  if (a.GetDescriptor() != b.GetDescriptor()) return false;
  const size_t size = a.ByteSizeLong();
  if (size != b.ByteSizeLong()) return false;
  return WriteSized(a, size) == WriteSized(b, size);
}

bool SameStringMap(const google::protobuf::Map<std::string, std::string>& a,
                   const google::protobuf::Map<std::string, std::string>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [key, value] : a) {
    auto it = b.find(key);
    if (it == b.end() || it->second != value) return false;
  }
  return true;
}

}  // namespace orch::api
