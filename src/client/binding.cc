#include "client/binding.h"

#include <algorithm>
#include <initializer_list>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/types/span.h"
#include "absl/status/status.h"
#include "fmt/format.h"
#include "google/protobuf/io/coded_stream.h"
#include "orch/api/time.h"
#include "orch/base/status.h"

namespace orch::client::internal {
namespace {

using google::protobuf::io::CodedOutputStream;

constexpr char kPodScheduled[] = "PodScheduled";
constexpr char kTrue[] = "True";

// Field numbers (core.proto, meta.proto, google/protobuf/timestamp.proto).
constexpr uint32_t kPodMetadata = 3, kPodSpec = 4, kPodStatus = 5;
constexpr uint32_t kMetaUid = 4;
constexpr uint32_t kSpecNodeName = 12;
constexpr uint32_t kStatusConditions = 2;
constexpr uint32_t kConditionType = 1, kConditionStatus = 2, kConditionTransition = 4,
                   kConditionReason = 5, kConditionMessage = 6;
constexpr uint32_t kTimestampSeconds = 1;

constexpr uint32_t kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5;

// One field of an encoded message: its whole encoding (tag included) and, for a
// length-delimited one, what it holds.
struct Field {
  uint32_t number = 0;
  uint32_t wire_type = 0;
  std::string_view encoded;
  std::string_view payload;
};
using Fields = absl::InlinedVector<Field, 16>;

bool ReadVarint(std::string_view& in, uint64_t* value) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const auto byte = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *value = result;
      return true;
    }
  }
  return false;
}

// The fields of `message` in the order they are encoded, into `*fields`; kDataLoss naming
// `where` if it is not a well-formed encoding.
absl::Status ParseFields(std::string_view message, std::string_view where, Fields* fields) {
  fields->clear();
  std::string_view in = message;
  const auto malformed = [&] {
    return absl::DataLossError(fmt::format(
        "stored pod: {} is not a well-formed encoding (at byte {} of {})", where,
        message.size() - in.size(), message.size()));
  };
  while (!in.empty()) {
    const char* start = in.data();
    uint64_t tag = 0;
    if (!ReadVarint(in, &tag) || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) return malformed();
    Field field;
    field.number = static_cast<uint32_t>(tag >> 3);
    field.wire_type = static_cast<uint32_t>(tag & 7);
    uint64_t value = 0;
    switch (tag & 7) {
      case kVarint:
        if (!ReadVarint(in, &value)) return malformed();
        break;
      case kFixed64:
        if (in.size() < 8) return malformed();
        in.remove_prefix(8);
        break;
      case kFixed32:
        if (in.size() < 4) return malformed();
        in.remove_prefix(4);
        break;
      case kLengthDelimited:
        if (!ReadVarint(in, &value) || value > in.size()) return malformed();
        field.payload = in.substr(0, value);
        in.remove_prefix(value);
        break;
      default:  // groups: never written by proto3
        return malformed();
    }
    field.encoded = std::string_view(start, static_cast<size_t>(in.data() - start));
    fields->push_back(field);
  }
  return absl::OkStatus();
}

// Whether the fields come in ascending number (a repeated field's elements together), as
// a deterministic serializer writes them.
bool Ascending(const Fields& fields) {
  return std::is_sorted(fields.begin(), fields.end(),
                        [](const Field& a, const Field& b) { return a.number < b.number; });
}

// The tag and length of length-delimited field `number` holding `size` bytes, written
// into `buffer`.
std::string_view Header(uint32_t number, size_t size, char (&buffer)[16]) {
  auto* end = reinterpret_cast<uint8_t*>(buffer);
  end = CodedOutputStream::WriteVarint32ToArray((number << 3) | kLengthDelimited, end);
  end = CodedOutputStream::WriteVarint64ToArray(size, end);
  return {buffer, static_cast<size_t>(reinterpret_cast<char*>(end) - buffer)};
}

void AppendBytesField(uint32_t number, std::string_view payload, std::string* out) {
  char header[16];
  out->append(Header(number, payload.size(), header));
  out->append(payload);
}

using Pieces = absl::InlinedVector<std::string_view, 24>;
using Replacements =
    std::initializer_list<std::pair<uint32_t, absl::Span<const std::string_view>>>;

// Adds `piece` to `*out`, joined to the last one when it follows it in memory.
void Push(std::string_view piece, Pieces* out) {
  if (piece.empty()) return;
  if (!out->empty() && out->back().data() + out->back().size() == piece.data()) {
    out->back() = std::string_view(out->back().data(), out->back().size() + piece.size());
    return;
  }
  out->push_back(piece);
}

// `fields` (ascending) with every field numbered as one in `replacements` (ascending
// numbers) taken out and the replacement's pieces (none: a removal) put where a
// deterministic serializer would write them.
void PushReplaced(const Fields& fields, Replacements replacements, Pieces* out) {
  const auto* next = replacements.begin();
  const auto put = [out](absl::Span<const std::string_view> pieces) {
    for (std::string_view piece : pieces) Push(piece, out);
  };
  for (const Field& field : fields) {
    for (; next != replacements.end() && next->first < field.number; ++next) put(next->second);
    if (next != replacements.end() && next->first == field.number) continue;  // replaced
    Push(field.encoded, out);
  }
  for (; next != replacements.end(); ++next) put(next->second);
}

size_t SizeOf(absl::Span<const std::string_view> pieces) {
  size_t size = 0;
  for (std::string_view piece : pieces) size += piece.size();
  return size;
}

// Whether every field numbered as one of `numbers` is length-delimited, as the fields the
// splice reads are declared. A parser keeps one of another wire type as an unknown field.
bool LengthDelimited(const Fields& fields, std::initializer_list<uint32_t> numbers) {
  return std::none_of(fields.begin(), fields.end(), [&](const Field& f) {
    return f.wire_type != kLengthDelimited &&
           std::find(numbers.begin(), numbers.end(), f.number) != numbers.end();
  });
}

const Field* Last(const Fields& fields, uint32_t number) {
  for (auto it = fields.rbegin(); it != fields.rend(); ++it) {
    if (it->number == number) return &*it;
  }
  return nullptr;
}

// Appends field `number` holding a Timestamp of `seconds` (nanos 0).
void AppendTimestampField(uint32_t number, int64_t seconds, std::string* out) {
  uint8_t timestamp[16];
  uint8_t* end = timestamp;
  if (seconds != 0) {
    end = CodedOutputStream::WriteVarint32ToArray((kTimestampSeconds << 3) | kVarint, end);
    end = CodedOutputStream::WriteVarint64ToArray(static_cast<uint64_t>(seconds), end);
  }
  AppendBytesField(number,
                   {reinterpret_cast<const char*>(timestamp), static_cast<size_t>(end - timestamp)},
                   out);
}

}  // namespace

void ApplyBinding(std::string_view node_name, int64_t now_seconds, api::v1::Pod* pod) {
  pod->mutable_spec()->set_node_name(std::string(node_name));
  api::v1::PodCondition* scheduled = nullptr;
  for (auto& condition : *pod->mutable_status()->mutable_conditions()) {
    if (condition.type() == kPodScheduled) scheduled = &condition;
  }
  if (scheduled == nullptr) {
    scheduled = pod->mutable_status()->add_conditions();
    scheduled->set_type(kPodScheduled);
  }
  if (scheduled->status() != kTrue) {
    scheduled->set_status(kTrue);
    scheduled->clear_reason();
    scheduled->clear_message();
    *scheduled->mutable_last_transition_time() =
        api::MetaTime(absl::FromUnixSeconds(now_seconds));
  }
}

bool SplicedBinding::Equals(std::string_view bytes) const {
  if (bytes.size() != size_) return false;
  for (std::string_view piece : pieces_) {
    if (bytes.substr(0, piece.size()) != piece) return false;
    bytes.remove_prefix(piece.size());
  }
  return true;
}

std::string SplicedBinding::Bytes() const {
  std::string bytes;
  bytes.reserve(size_);
  for (std::string_view piece : pieces_) bytes.append(piece);
  return bytes;
}

absl::StatusOr<std::string_view> SplicedBinding::StoredUid() const {
  Fields meta;
  ORCH_RETURN_IF_ERROR(ParseFields(metadata_, "metadata", &meta));
  std::string_view uid;  // a parser keeps a field of another wire type aside, unknown
  for (const Field& field : meta) {
    if (field.number == kMetaUid && field.wire_type == kLengthDelimited) uid = field.payload;
  }
  return uid;
}

absl::StatusOr<bool> SpliceBinding(std::string_view stored, std::string_view node_name,
                                   int64_t now_seconds, SplicedBinding* out) {
  Fields pod;
  ORCH_RETURN_IF_ERROR(ParseFields(stored, "the pod", &pod));
  if (!Ascending(pod) || !LengthDelimited(pod, {kPodMetadata, kPodSpec, kPodStatus})) {
    return false;
  }
  // A message field that appears more than once is merged by a parser: not ours to splice.
  for (uint32_t number : {kPodMetadata, kPodSpec, kPodStatus}) {
    if (std::count_if(pod.begin(), pod.end(),
                      [&](const Field& f) { return f.number == number; }) > 1) {
      return false;
    }
  }
  const Field* metadata = Last(pod, kPodMetadata);
  const Field* spec_field = Last(pod, kPodSpec);
  const Field* status_field = Last(pod, kPodStatus);
  if (metadata != nullptr) out->metadata_ = metadata->payload;

  Fields spec;
  if (spec_field != nullptr) {
    ORCH_RETURN_IF_ERROR(ParseFields(spec_field->payload, "spec", &spec));
    if (!Ascending(spec) || !LengthDelimited(spec, {kSpecNodeName})) return false;
    if (const Field* assigned = Last(spec, kSpecNodeName)) out->assigned_node_ = assigned->payload;
  }
  if (!out->assigned_node_.empty()) return true;

  Fields status;
  if (status_field != nullptr) {
    ORCH_RETURN_IF_ERROR(ParseFields(status_field->payload, "status", &status));
    if (!Ascending(status) || !LengthDelimited(status, {kStatusConditions})) return false;
  }
  // The conditions, the last PodScheduled one made True (or one appended).
  const Field* scheduled = nullptr;
  Fields scheduled_fields, condition;
  for (const Field& field : status) {
    if (field.number != kStatusConditions) continue;
    ORCH_RETURN_IF_ERROR(ParseFields(field.payload, "status.conditions", &condition));
    if (!LengthDelimited(condition, {kConditionType, kConditionStatus, kConditionTransition,
                                     kConditionReason, kConditionMessage})) {
      return false;
    }
    const Field* type = Last(condition, kConditionType);
    if (type != nullptr && type->payload == kPodScheduled) {
      scheduled = &field;
      std::swap(scheduled_fields, condition);
    }
  }
  // The PodScheduled element's new payload, unless it is already True: its type, status
  // True and lastTransitionTime when it is new; else the element with those two fields
  // rewritten and its reason and message dropped.
  std::string& new_condition = out->new_condition_;
  const Field* current = scheduled == nullptr ? nullptr : Last(scheduled_fields, kConditionStatus);
  if (scheduled == nullptr || current == nullptr || current->payload != kTrue) {
    std::string true_status, transition;
    AppendBytesField(kConditionStatus, kTrue, &true_status);
    AppendTimestampField(kConditionTransition, now_seconds, &transition);
    if (scheduled == nullptr) {
      AppendBytesField(kConditionType, kPodScheduled, &new_condition);
      new_condition.append(true_status).append(transition);
    } else {
      if (!Ascending(scheduled_fields)) return false;
      const std::string_view status_piece = true_status, transition_piece = transition;
      Pieces element;
      PushReplaced(scheduled_fields,
                   {{kConditionStatus, {&status_piece, 1}},
                    {kConditionTransition, {&transition_piece, 1}},
                    {kConditionReason, {}},
                    {kConditionMessage, {}}},
                   &element);
      for (std::string_view piece : element) new_condition.append(piece);
    }
  }
  Pieces conditions;  // the whole run of status.conditions
  // The new element, header then payload: in place of the stored PodScheduled element, or
  // after the last condition when there was none (at most one of the two happens).
  const auto push_new_element = [&] {
    Push(Header(kStatusConditions, new_condition.size(), out->condition_header_), &conditions);
    Push(new_condition, &conditions);
  };
  for (const Field& field : status) {
    if (field.number != kStatusConditions) continue;
    if (&field == scheduled && !new_condition.empty()) {
      push_new_element();
    } else {
      Push(field.encoded, &conditions);
    }
  }
  if (scheduled == nullptr) push_new_element();

  AppendBytesField(kSpecNodeName, node_name, &out->node_);
  const std::string_view node = out->node_;
  Pieces spec_pieces, status_pieces;
  PushReplaced(spec, {{kSpecNodeName, {&node, 1}}}, &spec_pieces);
  PushReplaced(status, {{kStatusConditions, conditions}}, &status_pieces);
  spec_pieces.insert(spec_pieces.begin(),
                     Header(kPodSpec, SizeOf(spec_pieces), out->spec_header_));
  status_pieces.insert(status_pieces.begin(),
                       Header(kPodStatus, SizeOf(status_pieces), out->status_header_));
  PushReplaced(pod, {{kPodSpec, spec_pieces}, {kPodStatus, status_pieces}}, &out->pieces_);
  out->size_ = SizeOf(out->pieces_);
  return true;
}

}  // namespace orch::client::internal
