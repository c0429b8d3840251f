// ListFilter: ListOptions' label and field selectors applied to stored values.
//
// Label selectors read only metadata.labels, straight from the wire bytes (fields 1-3 of
// every kind are orch.api.v1.ObjectHeader), so filtering never decodes a spec or status.
// Field selectors decode the whole value as ListOptions.prototype. Any Store backend that
// filters on its side (every one does: etcd cannot) uses this class.
//
// Not thread-safe: one filter per List call (it reuses scratch space between values).
#ifndef ORCH_SRC_STORE_LIST_FILTER_H_
#define ORCH_SRC_STORE_LIST_FILTER_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "google/protobuf/map.h"
#include "google/protobuf/message.h"
#include "orch/store/store.h"

namespace orch::store::internal {

class ListFilter {
 public:
  // kInvalidArgument when a field selector comes without a prototype or names a field the
  // prototype's message lacks.
  static absl::StatusOr<ListFilter> Create(const ListOptions& options);

  ListFilter(ListFilter&&) = default;
  ListFilter& operator=(ListFilter&&) = default;

  // True when every value passes.
  bool empty() const { return labels_.empty() && fields_.empty(); }

  // Whether `value` passes both selectors. A value that does not parse passes only an
  // empty selector.
  bool Matches(std::string_view value);

 private:
  ListFilter() = default;

  bool LabelsMatch(std::string_view value);
  bool FieldsMatch(std::string_view value);

  api::LabelSelector labels_;
  api::FieldSelector fields_;
  std::unique_ptr<google::protobuf::Message> object_;      // scratch for field selectors
  google::protobuf::Map<std::string, std::string> scratch_labels_;
};

// Calls `fn(payload)` for each length-delimited occurrence of field `number` at the top
// level of the serialized message `bytes`, skipping everything else. False if `bytes` is not
// well-formed protobuf wire data.
bool ForEachLengthDelimited(std::string_view bytes, int number,
                            absl::FunctionRef<void(std::string_view)> fn);

}  // namespace orch::store::internal

#endif  // ORCH_SRC_STORE_LIST_FILTER_H_
