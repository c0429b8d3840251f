// PodInfo::scheduling_signature: what makes two pods equivalent to the scheduler.
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "orch/scheduler/node_info.h"

namespace orch::scheduler {

const std::string& PodInfo::scheduling_signature() const {
  std::call_once(signature_once_, [this] {
    // Deterministic: map entries in key order, so equal pods give equal bytes. The
    // namespace and labels come length-prefixed, then the spec without nodeName — read in
    // place when it has none (a pending pod's), so the spec is not copied.
    google::protobuf::io::StringOutputStream out(&signature_);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    api::v1::ObjectMeta meta;
    meta.set_namespace_(pod_->metadata().namespace_());
    *meta.mutable_labels() = pod_->metadata().labels();
    coded.WriteVarint64(meta.ByteSizeLong());
    meta.SerializeWithCachedSizes(&coded);
    if (pod_->spec().node_name().empty()) {
      pod_->spec().SerializeToCodedStream(&coded);
    } else {
      api::v1::PodSpec spec = pod_->spec();
      spec.clear_node_name();
      spec.SerializeToCodedStream(&coded);
    }
  });
  return signature_;
}

}  // namespace orch::scheduler
