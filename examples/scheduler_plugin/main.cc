// An out-of-tree scheduler plugin, registered beside Kubernetes' in-tree plugins and
// enabled from a KubeSchedulerConfiguration, then asked where pods would go (Place, the
// engine of `orchctl place`). The same Registry and configuration go into
// SchedulerOptions to run it in a live Scheduler.
//
// MaintenanceWindow: Filter keeps pods off nodes labelled example.com/maintenance=true;
// Score prefers nodes whose tier label (args.tierLabel, default example.com/tier) is
// "fast". Exits 0 when the placements are the expected ones.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "orch/api/codec.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/core.pb.h"
#include "orch/scheduler/config.h"
#include "orch/scheduler/framework.h"
#include "orch/scheduler/place.h"
#include "orch/scheduler/registry.h"

namespace sched = orch::scheduler;

class MaintenanceWindow final : public sched::FilterPlugin, public sched::ScorePlugin {
 public:
  static constexpr char kName[] = "MaintenanceWindow";
  explicit MaintenanceWindow(std::string tier_label) : tier_label_(std::move(tier_label)) {}

  std::string_view Name() const override { return kName; }

  sched::Status Filter(sched::CycleState&, const sched::PodInfo&,
                       const sched::NodeInfo& node) const override {
    auto it = node.labels().find("example.com/maintenance");
    if (it != node.labels().end() && it->second == "true") {
      // Unresolvable: evicting pods would not help, so preemption skips the node.
      return sched::Status::Unresolvable("node(s) were in a maintenance window");
    }
    return sched::Status();
  }

  sched::Status Score(sched::CycleState&, const sched::PodInfo&, const sched::NodeInfo& node,
                      int64_t* score) const override {
    auto it = node.labels().find(tier_label_);
    *score = it != node.labels().end() && it->second == "fast" ? sched::kMaxNodeScore : 0;
    return sched::Status();
  }

 private:
  const std::string tier_label_;
};

// The factory reads the plugin's args from pluginConfig; a bad value is an error naming
// where it came from, and the configuration is refused.
absl::StatusOr<std::unique_ptr<sched::Plugin>> NewMaintenanceWindow(
    const sched::PluginArgs& args, sched::Handle&) {
  std::string label = "example.com/tier";
  const auto& fields = args.raw().fields();
  if (auto it = fields.find("tierLabel"); it != fields.end()) {
    if (it->second.string_value().empty()) return args.Invalid("tierLabel", "expected a label key");
    label = it->second.string_value();
  }
  return std::make_unique<MaintenanceWindow>(label);
}

constexpr char kConfig[] = R"(apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
  plugins:
    filter: {enabled: [{name: MaintenanceWindow}]}
    score: {enabled: [{name: MaintenanceWindow, weight: 5}]}
  pluginConfig:
  - name: MaintenanceWindow
    args: {tierLabel: example.com/tier}
)";

constexpr char kState[] = R"(apiVersion: v1
kind: Node
metadata: {name: fast-1, labels: {example.com/tier: fast}}
status: {allocatable: {cpu: "4", memory: 8Gi, pods: "110"}}
---
apiVersion: v1
kind: Node
metadata: {name: slow-1, labels: {example.com/tier: slow}}
status: {allocatable: {cpu: "4", memory: 8Gi, pods: "110"}}
---
apiVersion: v1
kind: Node
metadata: {name: fast-2, labels: {example.com/tier: fast, example.com/maintenance: "true"}}
status: {allocatable: {cpu: "4", memory: 8Gi, pods: "110"}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec: {containers: [{name: web, image: web:v1, resources: {requests: {cpu: "1"}}}]}
---
apiVersion: v1
kind: Pod
metadata: {name: pinned, namespace: default}
spec:
  nodeSelector: {example.com/tier: fast}
  containers: [{name: db, image: db:v1, resources: {requests: {cpu: "4"}}}]
)";

int main() {
  sched::Registry registry = sched::Registry::InTree();
  if (absl::Status s = registry.Register(MaintenanceWindow::kName, NewMaintenanceWindow); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  // A name is registered once: a second registration is refused.
  if (registry.Register(MaintenanceWindow::kName, NewMaintenanceWindow).code() !=
      absl::StatusCode::kAlreadyExists) {
    std::fprintf(stderr, "a duplicate plugin name was accepted\n");
    return 1;
  }

  sched::PlaceOptions options;
  options.registry = registry;
  options.keep_scores = true;
  absl::StatusOr<sched::v1::KubeSchedulerConfiguration> config =
      sched::LoadConfig(kConfig, "scheduler.yaml", registry);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().ToString().c_str());
    return 1;
  }
  options.config = *config;

  sched::PlaceInput input;
  absl::StatusOr<std::vector<orch::api::DecodedObject>> objects =
      orch::api::DecodeManifests(kState, "state.yaml", orch::api::Scheme::Builtin());
  if (!objects.ok()) {
    std::fprintf(stderr, "%s\n", objects.status().ToString().c_str());
    return 1;
  }
  for (const orch::api::DecodedObject& decoded : *objects) {
    if (const auto* node = dynamic_cast<const orch::api::v1::Node*>(decoded.object.get())) {
      input.nodes.push_back(*node);
    } else if (const auto* pod = dynamic_cast<const orch::api::v1::Pod*>(decoded.object.get())) {
      input.pending.push_back(*pod);
    }
  }

  absl::StatusOr<std::vector<sched::PodPlacement>> placed = sched::Place(input, options);
  if (!placed.ok()) {
    std::fprintf(stderr, "%s\n", placed.status().ToString().c_str());
    return 1;
  }
  for (const sched::PodPlacement& p : *placed) {
    std::printf("%s -> %s %s\n", p.pod.c_str(), p.node.empty() ? "(none)" : p.node.c_str(),
                p.message.c_str());
    for (const auto& [node, plugins] : p.plugin_scores) {
      for (const auto& [plugin, score] : plugins) {
        if (plugin == MaintenanceWindow::kName) {
          std::printf("  %s: %s scored %lld\n", node.c_str(), plugin.c_str(),
                      static_cast<long long>(score));
        }
      }
    }
  }
  // web: fast-2 is filtered out, and the tier score outweighs the in-tree scores' ties.
  // pinned: fast-1 has 3 cpu left after web, slow-1 is not fast, fast-2 is in maintenance;
  // the message counts each node's first failing Filter, as kube-scheduler's does.
  const std::string why =
      "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node "
      "affinity/selector, 1 node(s) were in a maintenance window.";
  const bool ok = placed->size() == 2 && (*placed)[0].node == "fast-1" &&
                  (*placed)[1].node.empty() && (*placed)[1].message.starts_with(why);
  if (!ok) std::fprintf(stderr, "unexpected placements\n");
  return ok ? 0 : 1;
}
