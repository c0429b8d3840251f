#include "store/list_filter.h"

#include <utility>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "orch/base/status.h"

namespace orch::store::internal {
namespace {

using google::protobuf::internal::WireFormatLite;

// Field numbers of orch.api.v1.ObjectHeader.metadata, ObjectMeta.labels and a map entry.
constexpr int kMetadataField = 3;
constexpr int kLabelsField = 7;
constexpr int kEntryKeyField = 1;
constexpr int kEntryValueField = 2;

// The last occurrence of a string field wins, as when parsing.
bool ReadStringField(std::string_view bytes, int number, std::string* out) {
  return ForEachLengthDelimited(bytes, number,
                                [&](std::string_view payload) { out->assign(payload); });
}

}  // namespace

bool ForEachLengthDelimited(std::string_view bytes, int number,
                            absl::FunctionRef<void(std::string_view)> fn) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return in.CurrentPosition() == static_cast<int>(bytes.size());
    if (WireFormatLite::GetTagFieldNumber(tag) != number ||
        WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!WireFormatLite::SkipField(&in, tag)) return false;
      continue;
    }
    uint32_t length = 0;
    if (!in.ReadVarint32(&length)) return false;
    const size_t at = static_cast<size_t>(in.CurrentPosition());
    if (length > bytes.size() - at) return false;
    fn(bytes.substr(at, length));
    if (!in.Skip(static_cast<int>(length))) return false;
  }
}

absl::StatusOr<ListFilter> ListFilter::Create(const ListOptions& options) {
  ListFilter filter;
  filter.labels_ = options.labels;
  filter.fields_ = options.fields;
  if (!filter.fields_.empty()) {
    if (options.prototype == nullptr) {
      return absl::InvalidArgumentError(
          "prototype: required when a field selector is given (the message type to decode)");
    }
    ORCH_RETURN_IF_ERROR(
        Annotate(filter.fields_.Validate(*options.prototype->GetDescriptor()), "fields"));
    filter.object_.reset(options.prototype->New());
  }
  return filter;
}

bool ListFilter::Matches(std::string_view value) {
  return LabelsMatch(value) && FieldsMatch(value);
}

bool ListFilter::LabelsMatch(std::string_view value) {
  if (labels_.empty()) return true;
  scratch_labels_.clear();
  bool well_formed = true;
  const bool header_ok = ForEachLengthDelimited(value, kMetadataField, [&](std::string_view meta) {
    well_formed &= ForEachLengthDelimited(meta, kLabelsField, [&](std::string_view entry) {
      std::string key, label;
      well_formed &= ReadStringField(entry, kEntryKeyField, &key) &&
                     ReadStringField(entry, kEntryValueField, &label);
      scratch_labels_[std::move(key)] = std::move(label);
    });
  });
  return header_ok && well_formed && labels_.Matches(scratch_labels_);
}

bool ListFilter::FieldsMatch(std::string_view value) {
  if (fields_.empty()) return true;
  object_->Clear();
  if (!object_->ParseFromArray(value.data(), static_cast<int>(value.size()))) return false;
  return fields_.Matches(*object_);
}

}  // namespace orch::store::internal
