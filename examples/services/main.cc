// A Service over a Deployment on orch::Cluster's defaults, in virtual time. The Service
// gets a cluster IP when it is created; the EndpointSlice controller keeps its endpoints
// in step with the ready pods. When a node is lost, its pod's endpoint stops being ready
// as soon as the node lifecycle controller marks the pod not ready, and the replacement's
// endpoint becomes ready once the replacement is.
//
// Exits 0 when the endpoints are the three ready pods again, 1 otherwise.
#include <cstdio>
#include <set>
#include <string>

#include "orch/api/v1/core.pb.h"
#include "orch/api/v1/discovery.pb.h"
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
      - name: web
        image: "web:v1"
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
)";

// The ready endpoints of Service web, "10.64.0.2:8080 (node-0)", across its slices.
std::set<std::string> ReadyEndpoints(orch::Cluster& cluster) {
  std::set<std::string> out;
  auto slices = cluster.List<v1::EndpointSlice>("default", "kubernetes.io/service-name=web");
  if (!slices.ok()) return out;
  for (const v1::EndpointSlice& slice : *slices) {
    const int port = slice.ports_size() > 0 ? slice.ports(0).port() : 0;
    for (const v1::Endpoint& e : slice.endpoints()) {
      if (!e.conditions().ready()) continue;
      out.insert(e.addresses(0) + ":" + std::to_string(port) + " (" + e.node_name() + ")");
    }
  }
  return out;
}

std::string Join(const std::set<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "error: %s\n", status.ToString().c_str());
  return 1;
}

}  // namespace

int main() {
  absl::StatusOr<std::unique_ptr<orch::Cluster>> built =
      orch::Cluster::Builder().WithNodes({.count = 3}).Build();
  if (!built.ok()) return Fail(built.status());
  orch::Cluster& cluster = **built;
  const absl::Time t0 = cluster.Now();
  auto report = [&](const char* what) {
    const std::set<std::string> ready = ReadyEndpoints(cluster);
    std::printf("[%s] %s: %zu ready endpoints: %s\n",
                absl::FormatDuration(cluster.Now() - t0).c_str(), what, ready.size(),
                Join(ready).c_str());
  };
  auto endpoints_are = [&](size_t n) {
    return [&cluster, n] { return ReadyEndpoints(cluster).size() == n; };
  };

  if (auto applied = cluster.Apply(kWeb, "web.yaml"); !applied.ok()) return Fail(applied.status());
  auto service = cluster.Get<v1::Service>("default", "web");
  if (!service.ok()) return Fail(service.status());
  std::printf("service default/web at %s:80\n", service->spec().cluster_ip().c_str());
  if (auto s = cluster.WaitFor(endpoints_are(3), absl::Minutes(1), "three endpoints"); !s.ok()) {
    return Fail(s);
  }
  report("web ready");

  if (auto s = cluster.FailNode("node-1"); !s.ok()) return Fail(s);
  if (auto s = cluster.WaitFor(endpoints_are(2), absl::Minutes(2), "node-1's endpoint to go");
      !s.ok()) {
    return Fail(s);
  }
  report("node-1 lost");
  if (auto s = cluster.WaitFor(endpoints_are(3), absl::Minutes(10), "a replacement endpoint");
      !s.ok()) {
    return Fail(s);
  }
  report("replaced");
  return ReadyEndpoints(cluster).size() == 3 ? 0 : 1;
}
