// libFuzzer target for the manifest codec (orch/api/codec.h).
//
// Properties checked on every input:
//   - DecodeManifests never crashes, hangs or trips a sanitizer, whatever the bytes;
//   - whatever decodes also encodes, as YAML and as JSON, and decoding that text again
//     (with the same options, so defaulting must be idempotent) gives an equal message;
//   - whatever decodes can be stored: the Client's check of its encoding
//     (client/string_check.h) finds every string UTF-8, and the encoding parses back;
//   - a pending Pod that decodes is bound by Client::Bind's splice of its encoding
//     (client/binding.h) to exactly the encoding of the pod bound as a message;
//   - the splice never crashes on the input's raw bytes taken as a stored pod, and what it
//     makes of bytes that parse as a Pod parses as that pod, bound.
// A violated property aborts, which libFuzzer reports as a crash with the input saved.
// Inputs are decoded twice: with defaulting and validation (what hosts do) and without
// (so that invalid-but-well-typed objects reach the encoder too).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "client/binding.h"
#include "client/string_check.h"
#include "google/protobuf/util/message_differencer.h"
#include "orch/api/codec.h"
#include "orch/api/encoding.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/core.pb.h"

namespace {

using orch::api::DecodeOptions;

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "codec_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

void CheckReDecodes(const google::protobuf::Message& object, const std::string& text,
                    const DecodeOptions& options) {
  auto again = orch::api::DecodeManifests(text, "encoded", orch::api::Scheme::Builtin(), options);
  if (!again.ok()) Fail("encoded object does not decode", again.status().ToString() + "\n" + text);
  if (again->size() != 1) Fail("encoded object decodes to a different count", text);
  std::string differences;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&differences);
  if (!differencer.Compare(object, *again->front().object)) {
    Fail("round trip changed the object", differences + "\n" + text);
  }
}

void CheckStorable(const google::protobuf::Message& object) {
  using orch::client::internal::StringCheck;
  static const StringCheck* const check = new StringCheck(orch::api::Scheme::Builtin());
  const std::string bytes = orch::api::DeterministicBytes(object);
  if (check->Walk(*object.GetDescriptor(), bytes) != StringCheck::Strings::kValid) {
    Fail("the store's check refuses a decoded object", object.DebugString());
  }
  std::unique_ptr<google::protobuf::Message> parsed(object.New());
  if (!parsed->ParseFromString(bytes)) {
    Fail("a decoded object's encoding does not parse", object.DebugString());
  }
}

constexpr int64_t kBindTime = 1'790'000'000;

void CheckBindSplice(const google::protobuf::Message& object) {
  const auto* pod = google::protobuf::DynamicCastToGenerated<orch::api::v1::Pod>(&object);
  if (pod == nullptr || !pod->spec().node_name().empty()) return;
  const std::string stored = orch::api::DeterministicBytes(*pod);
  orch::client::internal::SplicedBinding spliced;
  auto in_order = orch::client::internal::SpliceBinding(stored, "node-1", kBindTime, &spliced);
  if (!in_order.ok() || !*in_order) {
    Fail("a pod's encoding is not spliced", in_order.status().ToString() + "\n" + pod->DebugString());
  }
  orch::api::v1::Pod bound = *pod;
  orch::client::internal::ApplyBinding("node-1", kBindTime, &bound);
  const std::string expected = orch::api::DeterministicBytes(bound);
  if (spliced.Bytes() != expected || !spliced.Equals(expected)) {
    Fail("the splice differs from the bound pod's encoding", pod->DebugString());
  }
}

// The input as a stored pod's bytes.
void SpliceRawBytes(std::string_view input) {
  orch::client::internal::SplicedBinding spliced;
  auto in_order = orch::client::internal::SpliceBinding(input, "node-1", kBindTime, &spliced);
  if (!in_order.ok() || !*in_order || !spliced.assigned_node().empty()) return;
  orch::api::v1::Pod stored;
  if (!stored.ParseFromString(std::string(input))) return;
  orch::api::v1::Pod bound;
  if (!bound.ParseFromString(spliced.Bytes())) Fail("a spliced pod does not parse", "");
  auto uid = spliced.StoredUid();
  if (!uid.ok() || *uid != stored.metadata().uid()) Fail("the stored uid is misread", "");
  orch::api::v1::Pod expected = stored;
  orch::client::internal::ApplyBinding("node-1", kBindTime, &expected);
  if (!google::protobuf::util::MessageDifferencer::Equals(bound, expected)) {
    Fail("a spliced pod is not the stored one bound", bound.DebugString());
  }
}

void DecodeAndRoundTrip(std::string_view input, const DecodeOptions& options) {
  auto objects =
      orch::api::DecodeManifests(input, "fuzz", orch::api::Scheme::Builtin(), options);
  if (!objects.ok()) return;
  for (const auto& decoded : *objects) {
    CheckStorable(*decoded.object);
    CheckBindSplice(*decoded.object);
    auto yaml = orch::api::EncodeYaml(*decoded.object);
    if (!yaml.ok()) Fail("decoded object does not encode as YAML", yaml.status().ToString());
    CheckReDecodes(*decoded.object, *yaml, options);
    auto json = orch::api::EncodeJson(*decoded.object, /*pretty=*/false);
    if (!json.ok()) Fail("decoded object does not encode as JSON", json.status().ToString());
    CheckReDecodes(*decoded.object, *json, options);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  DecodeAndRoundTrip(input, DecodeOptions{});
  DecodeAndRoundTrip(input, DecodeOptions{.apply_defaults = false, .validate = false});
  SpliceRawBytes(input);
  return 0;
}
