// PodInfo::scheduling_signature: what makes two pods equivalent to the scheduler.
#include <algorithm>
#include <optional>
#include <string>

#include "absl/container/inlined_vector.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "orch/scheduler/node_info.h"

namespace orch::scheduler {

const std::string& PodInfo::scheduling_signature() const {
  // absl's once: no system call on the way out when nobody waits (each pod takes one).
  absl::call_once(signature_once_, [this] {
    // The namespace, the labels in key order (count first, each key and value
    // length-prefixed), then the spec without nodeName, deterministic (map entries in key
    // order): equal pods give equal bytes, and no two different ones do. The spec is read in
    // place when it has no nodeName (a pending pod's), so it is not copied.
    const api::v1::ObjectMeta& meta = pod_->metadata();
    absl::InlinedVector<const google::protobuf::Map<std::string, std::string>::value_type*, 8>
        labels;
    for (const auto& entry : meta.labels()) labels.push_back(&entry);
    std::sort(labels.begin(), labels.end(),
              [](const auto* a, const auto* b) { return a->first < b->first; });
    const api::v1::PodSpec* spec = &pod_->spec();
    std::optional<api::v1::PodSpec> unbound;
    if (!spec->node_name().empty()) {
      unbound.emplace(*spec);
      unbound->clear_node_name();
      spec = &*unbound;
    }
    using google::protobuf::io::CodedOutputStream;
    const auto prefixed = [](const std::string& text) {
      return CodedOutputStream::VarintSize64(text.size()) + text.size();
    };
    size_t size = prefixed(meta.namespace_()) + CodedOutputStream::VarintSize64(labels.size());
    for (const auto* label : labels) size += prefixed(label->first) + prefixed(label->second);
    // Sized first, then written in place: one allocation.
    signature_.resize(size + spec->ByteSizeLong());
    google::protobuf::io::ArrayOutputStream out(signature_.data(),
                                                static_cast<int>(signature_.size()));
    CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    const auto write = [&coded](const std::string& text) {
      coded.WriteVarint64(text.size());
      coded.WriteString(text);
    };
    write(meta.namespace_());
    coded.WriteVarint64(labels.size());
    for (const auto* label : labels) {
      write(label->first);
      write(label->second);
    }
    spec->SerializeWithCachedSizes(&coded);
  });
  return signature_;
}

}  // namespace orch::scheduler
