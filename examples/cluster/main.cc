// orch::Cluster on its defaults: three nodes on fake runtimes, in virtual time. A
// Deployment is applied, one node is lost, and the cluster heals itself: the node goes
// Unknown, its pod is evicted after its toleration (300 s) and replaced on another node.
// Twenty minutes of cluster time take well under a second.
//
// Exits 0 when the Deployment is whole again without the lost node, 1 otherwise.
#include <chrono>
#include <cstdio>
#include <string>

#include "orch/api/v1/apps.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/cluster.h"

namespace v1 = orch::api::v1;

namespace {

constexpr char kWeb[] = R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "web:v1", resources: {requests: {cpu: 500m, memory: 256Mi}}}
)";

// "web-7d4b9-x2k4q on node-1, ..." for the live pods of app=web.
std::string Placement(orch::Cluster& cluster) {
  std::string out;
  auto pods = cluster.List<v1::Pod>("default", "app=web");
  if (!pods.ok()) return pods.status().ToString();
  for (const v1::Pod& pod : *pods) {
    if (pod.metadata().has_deletion_timestamp()) continue;
    if (!out.empty()) out += ", ";
    out += pod.metadata().name() + " on " + pod.spec().node_name();
  }
  return out;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "error: %s\n", status.ToString().c_str());
  return 1;
}

}  // namespace

int main() {
  const auto wall_start = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<orch::Cluster>> built =
      orch::Cluster::Builder()
          .WithNodes({.count = 3, .cpu = "4", .memory = "8Gi"})
          .WithImage("web:v1", {.start_delay = absl::Seconds(2)})
          .Build();
  if (!built.ok()) return Fail(built.status());
  orch::Cluster& cluster = **built;
  const absl::Time t0 = cluster.Now();
  auto at = [&] { return absl::FormatDuration(cluster.Now() - t0); };

  if (auto applied = cluster.Apply(kWeb, "web.yaml"); !applied.ok()) return Fail(applied.status());
  auto ready = [&](int n) { return [&cluster, n] { return cluster.ReadyReplicas("default", "web") == n; }; };
  if (auto s = cluster.WaitFor(ready(3), absl::Minutes(1), "web to be ready"); !s.ok()) return Fail(s);
  std::printf("[%s] web ready: %s\n", at().c_str(), Placement(cluster).c_str());

  const std::string lost = "node-1";
  if (auto s = cluster.FailNode(lost); !s.ok()) return Fail(s);
  std::printf("[%s] %s lost\n", at().c_str(), lost.c_str());
  auto node_is = [&](const char* status) {
    return [&cluster, &lost, status] {
      auto node = cluster.Get<v1::Node>("", lost);
      if (!node.ok()) return false;
      for (const v1::NodeCondition& c : node->status().conditions()) {
        if (c.type() == "Ready") return c.status() == status;
      }
      return false;
    };
  };
  if (auto s = cluster.WaitFor(node_is("Unknown"), absl::Minutes(2), "the node to be Unknown"); !s.ok()) {
    return Fail(s);
  }
  std::printf("[%s] %s is Unknown; web has %d ready\n", at().c_str(), lost.c_str(),
              cluster.ReadyReplicas("default", "web"));
  auto healed = [&] {
    return cluster.ReadyReplicas("default", "web") == 3 &&
           Placement(cluster).find(lost) == std::string::npos;
  };
  if (auto s = cluster.WaitFor(healed, absl::Minutes(10), "web to heal"); !s.ok()) return Fail(s);
  std::printf("[%s] healed: %s\n", at().c_str(), Placement(cluster).c_str());

  if (auto s = cluster.RecoverNode(lost); !s.ok()) return Fail(s);
  if (auto s = cluster.WaitFor(node_is("True"), absl::Minutes(1), "the node to be Ready"); !s.ok()) {
    return Fail(s);
  }
  std::printf("[%s] %s is back and Ready\n", at().c_str(), lost.c_str());
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  std::printf("%s of cluster time in %.3f s of wall time\n", at().c_str(), wall);
  return 0;
}
