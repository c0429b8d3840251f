// PodInfo::scheduling_signature: what makes two pods equivalent to the scheduler.
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "orch/scheduler/node_info.h"

namespace orch::scheduler {

const std::string& PodInfo::scheduling_signature() const {
  std::call_once(signature_once_, [this] {
    api::v1::Pod relevant;
    relevant.mutable_metadata()->set_namespace_(pod_->metadata().namespace_());
    *relevant.mutable_metadata()->mutable_labels() = pod_->metadata().labels();
    *relevant.mutable_spec() = pod_->spec();
    relevant.mutable_spec()->clear_node_name();
    // Deterministic: map entries in key order, so equal pods give equal bytes.
    google::protobuf::io::StringOutputStream out(&signature_);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    relevant.SerializeToCodedStream(&coded);
  });
  return signature_;
}

}  // namespace orch::scheduler
