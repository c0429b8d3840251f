// PrioritySort: the default queue order. Higher spec.priority first; among equals, the pod
// that entered the queue earlier.
#include "scheduler/plugins/factories.h"

namespace orch::scheduler::plugins {
namespace {

class PrioritySort final : public QueueSortPlugin {
 public:
  std::string_view Name() const override { return kPrioritySort; }

  bool Less(const QueuedPodInfo& a, const QueuedPodInfo& b) const override {
    const int32_t pa = a.pod->priority();
    const int32_t pb = b.pod->priority();
    return pa > pb || (pa == pb && a.timestamp < b.timestamp);
  }
  bool SortKey(const QueuedPodInfo& info, QueueSortKey* key) const override {
    key->major = -static_cast<int64_t>(info.pod->priority());
    key->minor = info.timestamp;
    return true;
  }
};

}  // namespace

FactoryResult NewPrioritySort(const PluginArgs& args, Handle& handle) {
  return std::make_unique<PrioritySort>();
}

}  // namespace orch::scheduler::plugins
