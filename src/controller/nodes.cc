#include "controller/nodes.h"

#include <algorithm>

namespace orch::controller::internal {

namespace v1 = api::v1;

const v1::NodeCondition* FindNodeCondition(const v1::NodeStatus& status, std::string_view type) {
  for (const v1::NodeCondition& c : status.conditions()) {
    if (c.type() == type) return &c;
  }
  return nullptr;
}

v1::NodeCondition* FindNodeCondition(v1::NodeStatus& status, std::string_view type) {
  for (v1::NodeCondition& c : *status.mutable_conditions()) {
    if (c.type() == type) return &c;
  }
  return nullptr;
}

std::string ReadyStatus(const v1::Node& node) {
  const v1::NodeCondition* ready = FindNodeCondition(node.status(), "Ready");
  return ready == nullptr ? std::string() : ready->status();
}

bool HasTaint(const Taints& taints, std::string_view key, std::string_view effect) {
  return std::any_of(taints.begin(), taints.end(), [&](const v1::Taint& t) {
    return t.key() == key && t.effect() == effect;
  });
}

bool RemoveTaint(Taints& taints, std::string_view key, std::string_view effect) {
  const int before = taints.size();
  taints.erase(std::remove_if(taints.begin(), taints.end(),
                              [&](const v1::Taint& t) {
                                return t.key() == key && t.effect() == effect;
                              }),
               taints.end());
  return taints.size() != before;
}

absl::Status AddPodNodeNameIndex(client::Informer<v1::Pod>& pods) {
  absl::Status status =
      pods.AddIndexer(std::string(kPodNodeNameIndex), [](const v1::Pod& pod) {
        if (pod.spec().node_name().empty()) return std::vector<std::string>{};
        return std::vector<std::string>{pod.spec().node_name()};
      });
  return absl::IsAlreadyExists(status) ? absl::OkStatus() : status;
}

std::vector<PodPtr> PodsOnNode(const client::Lister<v1::Pod>& pods, std::string_view node) {
  absl::StatusOr<std::vector<PodPtr>> found = pods.ByIndex(kPodNodeNameIndex, node);
  return found.ok() ? *std::move(found) : std::vector<PodPtr>{};
}

}  // namespace orch::controller::internal
