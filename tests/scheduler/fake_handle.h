// Test doubles for plugin tests: a Snapshot over NodeInfos the test builds, and a Handle
// that serves it. Plugins under test get exactly the nodes, pods and namespaces given.
#ifndef ORCH_TESTS_SCHEDULER_FAKE_HANDLE_H_
#define ORCH_TESTS_SCHEDULER_FAKE_HANDLE_H_

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "orch/base/clock.h"
#include "orch/scheduler/framework.h"
#include "orch/scheduler/node_info.h"

namespace orch::scheduler::testing {

class FakeSnapshot : public Snapshot {
 public:
  FakeSnapshot() = default;
  // Nodes are ordered by name, as the scheduler's snapshot orders them. Image num_nodes
  // are filled in across the given nodes.
  explicit FakeSnapshot(std::vector<NodeInfo> nodes) { Reset(std::move(nodes)); }

  void Reset(std::vector<NodeInfo> nodes) {
    std::sort(nodes.begin(), nodes.end(),
              [](const NodeInfo& a, const NodeInfo& b) { return a.name() < b.name(); });
    storage_ = std::move(nodes);
    std::map<std::string, int32_t> image_counts;
    for (const NodeInfo& node : storage_) {
      for (const auto& [image, state] : node.images()) ++image_counts[image];
    }
    for (NodeInfo& node : storage_) {
      for (const auto& [image, count] : image_counts) {
        if (node.images().contains(image)) node.set_image_num_nodes(image, count);
      }
    }
    Reindex();
  }

  // A node to change in place (its generation moves on); call Reindex() after.
  NodeInfo& mutable_node(size_t i) { return storage_[i]; }
  // Rebuilds the node list, the affinity indexes and what the snapshot says of hostnames
  // and anti-affinity terms from the nodes held.
  void Reindex() {
    // Labels may have changed: a number no snapshot has named before.
    static int64_t labels_generations = 0;
    labels_generation_ = ++labels_generations;
    nodes_.clear();
    with_affinity_.clear();
    with_anti_affinity_.clear();
    hostnames_are_names_ = true;
    anti_affinity_per_hostname_ = true;
    for (const NodeInfo& node : storage_) {
      nodes_.push_back(&node);
      if (!node.pods_with_affinity().empty()) with_affinity_.push_back(&node);
      if (!node.pods_with_required_anti_affinity().empty()) {
        with_anti_affinity_.push_back(&node);
      }
      const std::string* hostname = node.Label(kLabelHostname);
      if (hostname != nullptr && *hostname != node.name()) hostnames_are_names_ = false;
      for (const PodInfoPtr& pod : node.pods_with_required_anti_affinity()) {
        for (const AffinityTerm& t : pod->required_anti_affinity()) {
          if (t.topology_key != kLabelHostname || t.namespace_selector.has_value()) {
            anti_affinity_per_hostname_ = false;
          }
        }
      }
    }
  }
  // false: HostnameLabelsAreNodeNames says no whatever the nodes hold (the default
  // Snapshot's answer), for comparing the general path with the per-node one.
  void set_hostname_facts(bool known) { hostname_facts_ = known; }

  void SetNamespaceLabels(const std::string& ns, std::map<std::string, std::string> labels) {
    auto& map = namespaces_[ns];
    map.clear();
    for (auto& [k, v] : labels) map[k] = v;
  }

  const std::vector<const NodeInfo*>& nodes() const override { return nodes_; }
  const NodeInfo* Get(std::string_view name) const override {
    for (const NodeInfo* node : nodes_) {
      if (node->name() == name) return node;
    }
    return nullptr;
  }
  const std::vector<const NodeInfo*>& nodes_with_affinity_pods() const override {
    return with_affinity_;
  }
  const std::vector<const NodeInfo*>& nodes_with_required_anti_affinity_pods() const override {
    return with_anti_affinity_;
  }
  const google::protobuf::Map<std::string, std::string>* NamespaceLabels(
      std::string_view ns) const override {
    auto it = namespaces_.find(std::string(ns));
    return it == namespaces_.end() ? nullptr : &it->second;
  }
  bool HostnameLabelsAreNodeNames() const override {
    return hostname_facts_ && hostnames_are_names_;
  }
  bool AntiAffinityIsPerHostname() const override { return anti_affinity_per_hostname_; }
  int64_t node_labels_generation() const override { return labels_generation_; }

 private:
  int64_t labels_generation_ = 0;
  bool hostname_facts_ = true;
  bool hostnames_are_names_ = true;
  bool anti_affinity_per_hostname_ = true;
  std::vector<NodeInfo> storage_;
  std::vector<const NodeInfo*> nodes_;
  std::vector<const NodeInfo*> with_affinity_;
  std::vector<const NodeInfo*> with_anti_affinity_;
  std::map<std::string, google::protobuf::Map<std::string, std::string>> namespaces_;
};

// Serves a FakeSnapshot. RunFilterPlugins and the PreFilter extensions run the plugins
// the test registers with AddFilterPlugin (none by default: then every node passes).
class FakeHandle : public Handle {
 public:
  explicit FakeHandle(FakeSnapshot* snapshot, Clock* clock = &Clock::Real())
      : snapshot_(snapshot), clock_(clock) {}

  void AddFilterPlugin(FilterPlugin* plugin) { filters_.push_back(plugin); }
  void AddPreFilterPlugin(PreFilterPlugin* plugin) { pre_filters_.push_back(plugin); }
  void set_client(client::Client* client) { client_ = client; }
  void set_informers(client::SharedInformerFactory* informers) { informers_ = informers; }

  const Snapshot& snapshot() const override { return *snapshot_; }
  Clock& clock() const override { return *clock_; }
  client::Client* client() const override { return client_; }
  client::SharedInformerFactory* informers() const override { return informers_; }

  Status RunFilterPlugins(CycleState& state, const PodInfo& pod,
                          const NodeInfo& node) const override {
    for (FilterPlugin* plugin : filters_) {
      if (state.skip_filter.contains(plugin->Name())) continue;
      Status status = plugin->Filter(state, pod, node);
      if (!status.ok()) return status.WithPlugin(std::string(plugin->Name()));
    }
    return Status();
  }
  bool AllowWaitingPod(std::string_view uid, std::string_view plugin) override { return false; }
  bool RejectWaitingPod(std::string_view uid, std::string_view plugin,
                        std::string_view message) override {
    return false;
  }
  Status RunPreFilterAddPod(CycleState& state, const PodInfo& pod, const PodInfo& added,
                            const NodeInfo& node) const override {
    for (PreFilterPlugin* plugin : pre_filters_) {
      Status status = plugin->AddPod(state, pod, added, node);
      if (!status.ok()) return status;
    }
    return Status();
  }
  Status RunPreFilterRemovePod(CycleState& state, const PodInfo& pod, const PodInfo& removed,
                               const NodeInfo& node) const override {
    for (PreFilterPlugin* plugin : pre_filters_) {
      Status status = plugin->RemovePod(state, pod, removed, node);
      if (!status.ok()) return status;
    }
    return Status();
  }

 private:
  FakeSnapshot* snapshot_;
  Clock* clock_;
  client::Client* client_ = nullptr;
  client::SharedInformerFactory* informers_ = nullptr;
  std::vector<FilterPlugin*> filters_;
  std::vector<PreFilterPlugin*> pre_filters_;
};

}  // namespace orch::scheduler::testing

#endif  // ORCH_TESTS_SCHEDULER_FAKE_HANDLE_H_
