// The Service path of the control plane, end to end on one thread: the EndpointSlice
// controller turns pods into slices, a ServiceProxy turns Services and slices into rules,
// and a FakeNetwork takes them — and, in the Kernel cases, an NftablesNetwork programming
// a network namespace the benchmark makes (needs root and nft). Pods are written with
// their address and Ready condition directly (no node agents), so what is measured is the
// store, the informers, the controller, the proxy and the network.
//
//   ProgramServices/1000/10   wall time from creating 1,000 Services (10 ready pods each,
//                             already running) until the network has every rule with all
//                             ten backends ready: `seconds`.
//   EndpointUpdate/1000/10    with those programmed, one pod at a time turns not ready:
//                             wall time from its status write until the network's rule
//                             shows that backend not ready (p50/p99/max over 200 changes).
//   KernelProgramServices/1000/10, KernelEndpointUpdate/1000/10
//                             the same with the kernel programmed too: the update's time
//                             runs until the kernel's transaction is applied.
//   KernelSyncAll/1000/10     NftablesNetwork alone: one SyncAll of 1,000 Services x 10
//                             endpoints into an empty table: `seconds`.
//
//   build/bench/network_bench
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "control_plane.h"
#include "fmt/format.h"
#include "latency.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"
#include "orch/client/informer.h"
#include "orch/controller/controller.h"
#include "orch/controller/endpointslice.h"
#include "base/subprocess.h"
#include "orch/base/status.h"
#include "orch/network/fake_network.h"
#include "orch/network/nftables_network.h"
#include "orch/node/service_proxy.h"

namespace orch::network {
namespace {

namespace v1 = api::v1;

// A network namespace of the benchmark's own, deleted with the object.
class BenchNetns {
 public:
  BenchNetns() : name_(fmt::format("orch-bench-{}", ::getpid())) {
    absl::StatusOr<internal::ProgramResult> added =
        internal::RunProgram({"ip", "netns", "add", name_}, "");
    ok_ = added.ok() && added->exit_code == 0;
  }
  ~BenchNetns() {
    if (ok_) (void)internal::RunProgram({"ip", "netns", "del", name_}, "");
  }
  bool ok() const { return ok_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  bool ok_ = false;
};

// Every change to the FakeNetwork (what the benchmark reads back) and the kernel's.
class TeeNetwork final : public Network {
 public:
  TeeNetwork(FakeNetwork* fake, Network* kernel) : fake_(fake), kernel_(kernel) {}
  absl::StatusOr<std::string> AssignPodAddress(std::string_view node,
                                               std::string_view uid) override {
    return fake_->AssignPodAddress(node, uid);
  }
  void ReleasePodAddress(std::string_view node, std::string_view uid) override {
    fake_->ReleasePodAddress(node, uid);
  }
  absl::Status SyncService(const ServiceRule& rule) override {
    ORCH_RETURN_IF_ERROR(kernel_->SyncService(rule));
    return fake_->SyncService(rule);
  }
  absl::Status DeleteService(std::string_view ns, std::string_view name) override {
    ORCH_RETURN_IF_ERROR(kernel_->DeleteService(ns, name));
    return fake_->DeleteService(ns, name);
  }
  absl::Status SyncServices(const ServiceChanges& changes) override {
    ORCH_RETURN_IF_ERROR(kernel_->SyncServices(changes));
    return fake_->SyncServices(changes);
  }
  absl::Status SyncAll(const std::vector<ServiceRule>& rules) override {
    ORCH_RETURN_IF_ERROR(kernel_->SyncAll(rules));
    return fake_->SyncAll(rules);
  }

 private:
  FakeNetwork* fake_;
  Network* kernel_;
};

class Env {
 public:
  // With `kernel`, changes go to it too.
  explicit Env(Network* kernel = nullptr) {
    Network* network = &network_;
    if (kernel != nullptr) {
      tee_ = std::make_unique<TeeNetwork>(&network_, kernel);
      network = tee_.get();
    }
    manager_ = controller::Manager::Create({.client = cp_.client.get(),
                                            .informers = cp_.informers.get(),
                                            .executor = &cp_.executor})
                   .value();
    if (!controller::AddEndpointSliceController(manager_.get()).ok()) std::abort();
    proxy_ = node::ServiceProxy::Create(
                 {.informers = cp_.informers.get(), .network = network, .executor = &cp_.executor})
                 .value();
    if (!manager_->Start().ok()) std::abort();
    cp_.executor.RunUntilIdle();
  }
  ~Env() {
    proxy_.reset();
    manager_.reset();
    cp_.informers.reset();
  }

  // Pod `i` of service `s`: app=svc-<s>, address 10.<64 + i / 65536>.<...>, Ready.
  void CreatePod(int s, int i, int n) {
    v1::Pod pod;
    pod.mutable_metadata()->set_name(fmt::format("svc-{}-{}", s, i));
    pod.mutable_metadata()->set_namespace_("default");
    (*pod.mutable_metadata()->mutable_labels())["app"] = fmt::format("svc-{}", s);
    pod.mutable_spec()->set_node_name(fmt::format("node-{}", n % 50));
    v1::Container& c = *pod.mutable_spec()->add_containers();
    c.set_name("web");
    c.set_image("web:v1");
    v1::Pod created = cp_.client->Create(pod).value();
    const int k = s * 1000 + i;
    SetStatus(created, fmt::format("10.{}.{}.{}", 64 + k / 65536, (k / 256) % 256, k % 256),
              true);
  }
  void SetStatus(v1::Pod pod, const std::string& ip, bool ready) {
    pod.mutable_status()->set_phase("Running");
    pod.mutable_status()->set_pod_ip(ip);
    pod.mutable_status()->clear_pod_ips();
    pod.mutable_status()->add_pod_ips()->set_ip(ip);
    pod.mutable_status()->clear_conditions();
    v1::PodCondition& c = *pod.mutable_status()->add_conditions();
    c.set_type("Ready");
    c.set_status(ready ? "True" : "False");
    if (!cp_.client->UpdateStatus(pod).ok()) std::abort();
  }
  void CreateService(int s) {
    v1::Service service;
    service.mutable_metadata()->set_name(fmt::format("svc-{}", s));
    service.mutable_metadata()->set_namespace_("default");
    (*service.mutable_spec()->mutable_selector())["app"] = fmt::format("svc-{}", s);
    v1::ServicePort& port = *service.mutable_spec()->add_ports();
    port.set_name("http");
    port.set_port(80);
    port.mutable_target_port()->set_int_val(8080);
    if (!cp_.client->Create(service).ok()) std::abort();
  }
  // Services whose rule has `endpoints` backends, `ready` of them ready, in the network.
  bool Programmed(int s, int endpoints, int ready) {
    std::optional<ServiceRule> rule = network_.Rule("default", fmt::format("svc-{}", s));
    if (!rule.has_value() || rule->ports.empty()) return false;
    int total = 0;
    int up = 0;
    for (const Backend& b : rule->ports[0].backends) {
      ++total;
      up += b.ready ? 1 : 0;
    }
    return total == endpoints && up == ready;
  }

  bench::ControlPlane cp_;
  std::unique_ptr<controller::Manager> manager_;
  FakeNetwork network_{{.clock = &cp_.executor.clock()}};
  std::unique_ptr<TeeNetwork> tee_;
  std::unique_ptr<node::ServiceProxy> proxy_;
};

// Creates `services` x `endpoints` ready pods, then the Services; returns the seconds until
// every rule is programmed (or -1 if one never is).
double ProgramAll(Env& env, int services, int endpoints) {
  for (int s = 0; s < services; ++s) {
    for (int i = 0; i < endpoints; ++i) env.CreatePod(s, i, s * endpoints + i);
  }
  env.cp_.executor.RunUntilIdle();
  const auto start = std::chrono::steady_clock::now();
  for (int s = 0; s < services; ++s) env.CreateService(s);
  env.cp_.executor.RunUntilIdle();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (int s = 0; s < services; ++s) {
    if (!env.Programmed(s, endpoints, endpoints)) return -1;
  }
  return seconds;
}

// The kernel network of a Kernel case, in a namespace of its own; nullptr (and the case
// skipped) when this machine cannot make one.
struct Kernel {
  explicit Kernel(benchmark::State& state, bool wanted) {
    if (!wanted) return;
    if (!netns.ok()) {
      state.SkipWithError("cannot make a network namespace (needs root and iproute2)");
      return;
    }
    absl::StatusOr<std::unique_ptr<NftablesNetwork>> made =
        NftablesNetwork::Create({.netns = netns.name()});
    if (!made.ok()) {
      state.SkipWithError(std::string(made.status().message()).c_str());
      return;
    }
    network = std::move(*made);
  }
  bool failed(bool wanted) const { return wanted && network == nullptr; }

  BenchNetns netns;
  std::unique_ptr<NftablesNetwork> network;
};

void ProgramServices(benchmark::State& state, bool kernel) {
  const int services = static_cast<int>(state.range(0));
  const int endpoints = static_cast<int>(state.range(1));
  for (auto _ : state) {
    Kernel k(state, kernel);
    if (k.failed(kernel)) return;
    Env env(k.network.get());
    const double seconds = ProgramAll(env, services, endpoints);
    if (seconds < 0) {
      state.SkipWithError("a Service was not programmed");
      return;
    }
    state.SetIterationTime(seconds);
    state.counters["seconds"] = seconds;
    state.counters["rules"] = static_cast<double>(env.network_.service_count());
  }
}

void EndpointUpdate(benchmark::State& state, bool kernel) {
  const int services = static_cast<int>(state.range(0));
  const int endpoints = static_cast<int>(state.range(1));
  for (auto _ : state) {
    Kernel k(state, kernel);
    if (k.failed(kernel)) return;
    Env env(k.network.get());
    if (ProgramAll(env, services, endpoints) < 0) {
      state.SkipWithError("a Service was not programmed");
      return;
    }
    std::vector<absl::Duration> latencies;
    for (int change = 0; change < (kernel ? 50 : 200); ++change) {
      const int s = (change * 7) % services;
      const int i = change % endpoints;
      v1::Pod pod =
          env.cp_.client->Get<v1::Pod>("default", fmt::format("svc-{}-{}", s, i)).value();
      const auto start = std::chrono::steady_clock::now();
      env.SetStatus(pod, pod.status().pod_ip(), false);
      env.cp_.executor.RunUntilIdle();
      latencies.push_back(absl::FromChrono(std::chrono::steady_clock::now() - start));
      if (!env.Programmed(s, endpoints, endpoints - 1)) {
        state.SkipWithError("the change did not reach the network");
        return;
      }
      pod = env.cp_.client->Get<v1::Pod>("default", pod.metadata().name()).value();
      env.SetStatus(pod, pod.status().pod_ip(), true);  // back, for the next change
      env.cp_.executor.RunUntilIdle();
    }
    state.SetIterationTime(absl::ToDoubleSeconds(latencies.back()));
    bench::ReportLatencies(state, std::move(latencies), "us");
  }
}

void KernelSyncAll(benchmark::State& state) {
  const int services = static_cast<int>(state.range(0));
  const int endpoints = static_cast<int>(state.range(1));
  std::vector<ServiceRule> rules;
  for (int s = 0; s < services; ++s) {
    ServiceRule& rule = rules.emplace_back();
    rule.ns = "default";
    rule.name = fmt::format("svc-{}", s);
    rule.cluster_ip = fmt::format("10.96.{}.{}", s / 256, s % 256);
    ServicePortRule& port = rule.ports.emplace_back();
    port.name = "http";
    port.port = 80;
    for (int i = 0; i < endpoints; ++i) {
      const int k = s * endpoints + i;
      port.backends.push_back({.address = fmt::format("10.64.{}.{}", k / 256, k % 256),
                               .port = 8080, .ready = true, .serving = true});
    }
  }
  for (auto _ : state) {
    Kernel k(state, true);
    if (k.failed(true)) return;
    const auto start = std::chrono::steady_clock::now();
    if (!k.network->SyncAll(rules).ok()) {
      state.SkipWithError("SyncAll failed");
      return;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(seconds);
    state.counters["seconds"] = seconds;
  }
}

BENCHMARK_CAPTURE(ProgramServices, , false)
    ->Args({100, 10})
    ->Args({1000, 10})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(EndpointUpdate, , false)
    ->Args({100, 10})
    ->Args({1000, 10})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(ProgramServices, Kernel, true)
    ->Args({1000, 10})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(EndpointUpdate, Kernel, true)
    ->Args({1000, 10})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(KernelSyncAll)
    ->Args({1000, 10})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace orch::network
