// PodInfo::scheduling_signature: what makes two pods equivalent to the scheduler.
#include <optional>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "orch/scheduler/node_info.h"

namespace orch::scheduler {

const std::string& PodInfo::scheduling_signature() const {
  // absl's once: no system call on the way out when nobody waits (each pod takes one).
  absl::call_once(signature_once_, [this] {
    // Deterministic: map entries in key order, so equal pods give equal bytes. The
    // namespace and labels come length-prefixed, then the spec without nodeName — read in
    // place when it has none (a pending pod's), so the spec is not copied.
    api::v1::ObjectMeta meta;
    meta.set_namespace_(pod_->metadata().namespace_());
    *meta.mutable_labels() = pod_->metadata().labels();
    const api::v1::PodSpec* spec = &pod_->spec();
    std::optional<api::v1::PodSpec> unbound;
    if (!spec->node_name().empty()) {
      unbound.emplace(*spec);
      unbound->clear_node_name();
      spec = &*unbound;
    }
    // Sized first, then written in place: one allocation.
    const size_t meta_size = meta.ByteSizeLong();
    signature_.resize(google::protobuf::io::CodedOutputStream::VarintSize64(meta_size) +
                      meta_size + spec->ByteSizeLong());
    google::protobuf::io::ArrayOutputStream out(signature_.data(),
                                                static_cast<int>(signature_.size()));
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    coded.WriteVarint64(meta_size);
    meta.SerializeWithCachedSizes(&coded);
    spec->SerializeWithCachedSizes(&coded);
  });
  return signature_;
}

}  // namespace orch::scheduler
