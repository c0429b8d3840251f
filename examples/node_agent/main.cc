// A node agent embedded in a host: one node, two pods, three minutes (--duration).
//
// By default the agent runs on a FakeRuntime in virtual time: the images are scripted
// (web:1 takes 2 s to start; crash:1 exits with code 1 five seconds after each start), the
// three minutes take milliseconds, and the output is the same every run. With
// `--cri unix:///run/containerd/containerd.sock --image <local busybox image>` the same
// pods run as real containers on that runtime, on the real clock, with real probes.
//
// Each change of a pod's phase, readiness, restart count or waiting reason is printed as
// the agent writes it; then every pod's status at the end.
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "orch/api/codec.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"
#include "orch/client/informer.h"
#include "orch/node/node_agent.h"
#include "orch/runtime/cri_runtime.h"
#include "orch/runtime/fake_runtime.h"
#include "orch/store/memory_store.h"

namespace {

namespace v1 = orch::api::v1;

// $WEB and $CRASH stand for the images (scripted names on the fake runtime).
constexpr char kPods[] = R"(
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec:
  nodeName: node-1
  containers:
  - name: web
    image: $WEB
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: [{name: http, containerPort: 8080}]
    readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 2}
---
apiVersion: v1
kind: Pod
metadata: {name: crasher, namespace: default}
spec:
  nodeName: node-1
  containers:
  - name: main
    image: $CRASH
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "sleep 5; exit 1"]
)";

// One line for what a reader of the pod's status cares about.
std::string Summary(const v1::Pod& pod) {
  std::string ready = "False";
  for (const auto& c : pod.status().conditions()) {
    if (c.type() == "Ready") ready = c.status();
  }
  int restarts = 0;
  std::string waiting;
  for (const auto& s : pod.status().container_statuses()) {
    restarts += s.restart_count();
    if (s.state().has_waiting()) waiting = " waiting=" + s.state().waiting().reason();
  }
  return pod.status().phase() + " ready=" + ready + " restarts=" + std::to_string(restarts) +
         waiting;
}

int Usage() {
  std::fprintf(stderr,
               "usage: orch-node-agent-example [--cri ENDPOINT --image IMAGE] [--duration 3m]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string endpoint, image;
  absl::Duration duration = absl::Minutes(3);
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--cri" && i + 1 < argc) {
      endpoint = argv[++i];
    } else if (arg == "--image" && i + 1 < argc) {
      image = argv[++i];
    } else if (arg == "--duration" && i + 1 < argc) {
      if (!absl::ParseDuration(argv[++i], &duration)) return Usage();
    } else {
      return Usage();
    }
  }
  if (endpoint.empty() != image.empty()) return Usage();
  const bool real = !endpoint.empty();

  // Where the agent's work runs: virtual time for the fake runtime, threads for a real one.
  std::unique_ptr<orch::VirtualExecutor> virtual_executor;
  std::unique_ptr<orch::ThreadPoolExecutor> threads;
  orch::Executor* executor;
  if (real) {
    threads = std::make_unique<orch::ThreadPoolExecutor>(2);
    executor = threads.get();
  } else {
    virtual_executor = std::make_unique<orch::VirtualExecutor>();
    executor = virtual_executor.get();
  }

  // The runtime: a CRI socket, or the fake one with its images scripted.
  std::unique_ptr<orch::runtime::Runtime> runtime;
  orch::runtime::FakeRuntime* fake = nullptr;
  if (real) {
    auto cri = orch::runtime::CriRuntime::Connect({.endpoint = endpoint});
    if (!cri.ok()) {
      std::fprintf(stderr, "%s\n", std::string(cri.status().message()).c_str());
      return 1;
    }
    runtime = *std::move(cri);
  } else {
    auto owned = std::make_unique<orch::runtime::FakeRuntime>(orch::runtime::FakeRuntimeOptions{
        .executor = executor,
        .images = {{"web:1", {.start_delay = absl::Seconds(2)}},
                   {"crash:1", {.exit_after = absl::Seconds(5), .exit_code = 1}}},
        .pod_cidr = "10.244.1.0/24"});
    fake = owned.get();
    runtime = std::move(owned);
  }

  orch::store::MemoryStoreOptions store_options;
  store_options.clock = &executor->clock();
  auto store = orch::store::MemoryStore::Open(store_options).value();
  orch::client::Client client(store.get(), &orch::api::Scheme::Builtin(), &executor->clock());

  // Print each pod's status as it changes.
  const absl::Time start = executor->clock().Now();
  auto elapsed = [&] { return absl::FormatDuration(executor->clock().Now() - start); };
  orch::client::SharedInformerFactory informers(&client, executor);
  std::map<std::string, std::string> last;  // pod name -> last summary printed
  auto pods = informers.InformerFor<v1::Pod>().value();
  pods.AddEventHandler({.on_update = [&](const auto&, const auto& pod) {
    const std::string summary = Summary(*pod);
    if (last[pod->metadata().name()] == summary) return;
    last[pod->metadata().name()] = summary;
    std::printf("%-6s %-8s %s\n", elapsed().c_str(), pod->metadata().name().c_str(),
                summary.c_str());
  }});

  // The agent. On the fake runtime, the runtime also answers the probes.
  auto agent = orch::node::NodeAgent::Create({.node_name = "node-1",
                                               .client = &client,
                                               .executor = executor,
                                               .runtime = runtime.get(),
                                               .prober = fake,
                                               .informers = &informers,
                                               .cpu = "2",
                                               .memory = "4Gi",
                                               .internal_ip = "127.0.0.1",
                                               .pod_log_directory = ""});
  if (!agent.ok()) {
    std::fprintf(stderr, "%s\n", std::string(agent.status().message()).c_str());
    return 1;
  }
  if (auto started = (*agent)->Start(); !started.ok()) {
    std::fprintf(stderr, "%s\n", std::string(started.message()).c_str());
    return 1;
  }
  informers.Start();

  const std::string manifests = absl::StrReplaceAll(
      kPods, {{"$WEB", real ? image : "web:1"}, {"$CRASH", real ? image : "crash:1"}});
  auto objects = orch::api::DecodeManifests(manifests, "pods", orch::api::Scheme::Builtin());
  if (!objects.ok()) {
    std::fprintf(stderr, "%s\n", std::string(objects.status().message()).c_str());
    return 1;
  }
  for (const auto& object : *objects) {
    if (auto created = client.CreateObject(object.object.get()); !created.ok()) {
      std::fprintf(stderr, "%s\n", std::string(created.message()).c_str());
      return 1;
    }
  }

  if (real) {
    absl::SleepFor(duration);
  } else {
    virtual_executor->AdvanceBy(duration);
  }
  std::printf("after %s:\n", elapsed().c_str());
  for (const std::string name : {"web", "crasher"}) {
    auto pod = client.Get<v1::Pod>("default", name);
    if (pod.ok()) std::printf("  %-8s %s ip=%s\n", name.c_str(), Summary(*pod).c_str(),
                              pod->status().pod_ip().c_str());
  }
  if (real) {  // real containers outlive the agent: delete the pods, and let it finish
    for (const std::string name : {"web", "crasher"}) {
      (void)client.Delete<v1::Pod>("default", name, {.grace_period_seconds = 0});
    }
    absl::SleepFor(absl::Seconds(5));
  }
  // Once Stop returns no work of the agent runs. The informers are this program's own: they
  // run on the pool too, so they end, and then the pool, before the client and store go.
  (*agent)->Stop();
  informers.Shutdown();
  threads.reset();
  return 0;
}
