// orchctl demo: a built-in story on the embedded defaults (orch::Cluster: MemoryStore,
// fake runtimes, virtual time), narrated as it goes. Five nodes run a Deployment; a node
// is lost and its pods come back elsewhere; a bad rollout is held within its budget and
// rolled back; the Deployment scales up. A table of nodes and pods follows each step, and
// a summary closes it: what healed, and how fast (in cluster time).
//
// On a terminal the story is paced (a pause after each line, so it can be followed as it
// goes); on a pipe it is printed at once. --fast drops the pauses.
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "command.h"
#include "fmt/format.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/status.h"
#include "orch/cluster.h"

namespace orch::orchctl {
namespace {

namespace v1 = api::v1;

constexpr char kWeb[] = R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 6
  minReadySeconds: 10
  strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 1}}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: web:v1
        resources: {requests: {cpu: 500m, memory: 256Mi}}
)";

class Demo {
 public:
  Demo(std::ostream& out, std::ostream& err, bool paced) : out_(out), err_(err), paced_(paced) {}

  int Run() {
    auto built = Cluster::Builder()
                     .WithNodes({.count = 5, .cpu = "4", .memory = "8Gi"})
                     .WithImage("web:v1", {.start_delay = absl::Seconds(2)})
                     .WithImage("web:v2", {.start_delay = absl::Seconds(2),
                                           .exit_after = absl::Seconds(4),
                                           .exit_code = 1})
                     .Build();
    if (!built.ok()) return Fail(built.status());
    cluster_ = std::move(*built);
    start_ = cluster_->Now();
    const auto wall_start = std::chrono::steady_clock::now();

    Say("A cluster in this process: 5 nodes (4 CPUs, 8 GiB each), a scheduler, the "
        "Deployment, ReplicaSet, node lifecycle and pod GC controllers, and a node agent "
        "per node on a fake container runtime. Time is virtual.");
    if (absl::Status s = Deploy(); !s.ok()) return Fail(s);
    if (absl::Status s = LoseANode(); !s.ok()) return Fail(s);
    if (absl::Status s = BadRollout(); !s.ok()) return Fail(s);
    if (absl::Status s = ScaleUp(); !s.ok()) return Fail(s);

    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    out_ << "\nSummary\n";
    for (const std::string& line : summary_) out_ << "  - " << line << "\n";
    out_ << fmt::format("  {} of cluster time in {:.2f} s of wall time.\n", Clock(), wall);
    return kExitOk;
  }

 private:
  absl::Status Deploy() {
    Step("Deploy web: 6 replicas of web:v1 (500m CPU each)");
    ORCH_RETURN_IF_ERROR(cluster_->Apply(kWeb, "web.yaml").status());
    const absl::Time applied = cluster_->Now();
    ORCH_RETURN_IF_ERROR(WaitAvailable(6, absl::Minutes(1)));
    Say(fmt::format("All 6 replicas available after {} (2 s to start, then Ready for "
                    "minReadySeconds 10); the scheduler spread them over the nodes.",
                    Took(applied)));
    Table();
    summary_.push_back(fmt::format("web deployed: 6 replicas available {} after apply", Took(applied)));
    return absl::OkStatus();
  }

  absl::Status LoseANode() {
    // The node that runs the most web pods.
    std::map<std::string, int> per_node;
    for (const v1::Pod& pod : Pods()) ++per_node[pod.spec().node_name()];
    std::string lost = per_node.begin()->first;
    for (const auto& [node, n] : per_node) {
      if (n > per_node[lost]) lost = node;
    }
    Step(fmt::format("Lose {} (it runs {} web pods): the machine stops answering", lost,
                     per_node[lost]));
    ORCH_RETURN_IF_ERROR(cluster_->FailNode(lost));
    const absl::Time failed = cluster_->Now();
    ORCH_RETURN_IF_ERROR(cluster_->WaitFor([&] { return NodeReady(lost) == "Unknown"; },
                                           absl::Minutes(2), lost + " to be Unknown"));
    const std::string detected = Took(failed);
    Say(fmt::format("{} later its heartbeat lease has run out: {} is Unknown and tainted "
                    "node.kubernetes.io/unreachable:NoExecute. Its pods are no longer ready; "
                    "web has {} ready.",
                    detected, lost, cluster_->ReadyReplicas("default", "web")));
    Table();
    Say("The pods tolerate the taint for 300 s (Kubernetes' default), in case the node "
        "comes back...");
    ORCH_RETURN_IF_ERROR(cluster_->WaitFor(
        [&] { return OnNode(lost) == 0 && Available() == 6; },
        absl::Minutes(10), "web to be whole without " + lost));
    Say(fmt::format("{} after the loss the pods were evicted and replaced on the other "
                    "nodes: web has 6 available again.",
                    Took(failed)));
    Table();
    summary_.push_back(fmt::format("node {} lost: detected after {}, its pods running elsewhere "
                                   "{} after the loss (300 s of it is the toleration)",
                                   lost, detected, Took(failed)));
    ORCH_RETURN_IF_ERROR(cluster_->RecoverNode(lost));
    ORCH_RETURN_IF_ERROR(cluster_->WaitFor([&] { return NodeReady(lost) == "True"; },
                                           absl::Minutes(1), lost + " to be Ready"));
    Say(fmt::format("{} comes back, empty, and is Ready for new pods.", lost));
    return absl::OkStatus();
  }

  absl::Status BadRollout() {
    Step("Roll out web:v2, which crashes 4 s after it starts");
    ORCH_RETURN_IF_ERROR(SetImage("web:v2"));
    const absl::Time started = cluster_->Now();
    int least_available = 6;
    int most_pods = 0;
    // Two minutes of the broken rollout, watched every second.
    for (int i = 0; i < 120; ++i) {
      cluster_->RunFor(absl::Seconds(1));
      least_available = std::min(least_available, Available());
      most_pods = std::max(most_pods, static_cast<int>(Pods().size()));
    }
    int restarts = 0;
    for (const v1::Pod& pod : Pods()) {
      for (const v1::ContainerStatus& c : pod.status().container_statuses()) restarts += c.restart_count();
    }
    Say(fmt::format("After {}: the new pods crash-loop ({} restarts, in CrashLoopBackOff); "
                    "minReadySeconds 10 means none ever counts as available, so the rollout "
                    "stops at its budget: at least {} of 6 available throughout, at most {} "
                    "pods (maxUnavailable 1, maxSurge 1).",
                    Took(started), restarts, least_available, most_pods));
    Table();
    Step("Roll back to web:v1");
    ORCH_RETURN_IF_ERROR(SetImage("web:v1"));
    const absl::Time rolled_back = cluster_->Now();
    ORCH_RETURN_IF_ERROR(cluster_->WaitFor(
        [&] {
          auto web = cluster_->Get<v1::Deployment>("default", "web");
          return web.ok() && web->status().updated_replicas() == 6 &&
                 web->status().available_replicas() == 6 && web->status().replicas() == 6;
        },
        absl::Minutes(5), "the rollback to complete"));
    Say(fmt::format("Rolled back: 6 of 6 web:v1 available again {} later.", Took(rolled_back)));
    Table();
    summary_.push_back(fmt::format("bad rollout held at >= {} of 6 available, rolled back in {}",
                                   least_available, Took(rolled_back)));
    return absl::OkStatus();
  }

  absl::Status ScaleUp() {
    Step("Scale web to 12 replicas");
    ORCH_ASSIGN_OR_RETURN(v1::Deployment web, cluster_->Get<v1::Deployment>("default", "web"));
    web.mutable_spec()->set_replicas(12);
    ORCH_RETURN_IF_ERROR(cluster_->client().Update(web).status());
    const absl::Time scaled = cluster_->Now();
    ORCH_RETURN_IF_ERROR(WaitAvailable(12, absl::Minutes(2)));
    Say(fmt::format("12 of 12 available {} later.", Took(scaled)));
    Table();
    summary_.push_back(fmt::format("scaled from 6 to 12 in {}", Took(scaled)));
    return absl::OkStatus();
  }

  // --- helpers ---------------------------------------------------------------------------

  // web's status.availableReplicas (ready for minReadySeconds); 0 when it is missing.
  int Available() {
    auto web = cluster_->Get<v1::Deployment>("default", "web");
    return web.ok() ? web->status().available_replicas() : 0;
  }

  absl::Status WaitAvailable(int n, absl::Duration timeout) {
    return cluster_->WaitFor([&] { return Available() == n; }, timeout,
                             fmt::format("web to have {} available", n));
  }

  absl::Status SetImage(const std::string& image) {
    ORCH_ASSIGN_OR_RETURN(v1::Deployment web, cluster_->Get<v1::Deployment>("default", "web"));
    web.mutable_spec()->mutable_template_()->mutable_spec()->mutable_containers(0)->set_image(image);
    return cluster_->client().Update(web).status();
  }

  // Live web pods (not terminating).
  std::vector<v1::Pod> Pods() {
    std::vector<v1::Pod> live;
    auto pods = cluster_->List<v1::Pod>("default", "app=web");
    if (!pods.ok()) return live;
    for (v1::Pod& pod : *pods) {
      if (!pod.metadata().has_deletion_timestamp()) live.push_back(std::move(pod));
    }
    return live;
  }

  int OnNode(const std::string& node) {
    int n = 0;
    for (const v1::Pod& pod : Pods()) n += pod.spec().node_name() == node;
    return n;
  }

  std::string NodeReady(const std::string& name) {
    auto node = cluster_->Get<v1::Node>("", name);
    if (!node.ok()) return "";
    for (const v1::NodeCondition& c : node->status().conditions()) {
      if (c.type() == "Ready") return c.status();
    }
    return "";
  }

  // Cluster time since `since`: "0s", "45s", "5m47s".
  std::string Took(absl::Time since) {
    const absl::Duration d = cluster_->Now() - since;
    return d == absl::ZeroDuration() ? "0s" : absl::FormatDuration(d);
  }
  // Cluster time since the story began.
  std::string Clock() { return Took(start_); }

  void Step(const std::string& title) {
    out_ << fmt::format("\n[{:>6}] == {} ==\n", Clock(), title);
    Pause();
  }

  void Say(const std::string& text) {
    out_ << fmt::format("[{:>6}] {}\n", Clock(), text);
    Pause();
  }

  // Nodes with their state and web pods: "node-0  Ready    web-…-x2k (Running, ready) ...".
  void Table() {
    std::map<std::string, std::vector<std::string>> pods_by_node;
    for (const v1::Pod& pod : Pods()) {
      bool ready = false;
      for (const v1::PodCondition& c : pod.status().conditions()) {
        if (c.type() == "Ready") ready = c.status() == "True";
      }
      const std::string& name = pod.metadata().name();
      std::string state = pod.status().phase();
      for (const v1::ContainerStatus& c : pod.status().container_statuses()) {
        if (c.state().has_waiting()) state = c.state().waiting().reason();
      }
      pods_by_node[pod.spec().node_name()].push_back(fmt::format(
          "{} {}{}", name.substr(name.rfind('-') + 1), state, ready ? "" : " (not ready)"));
    }
    out_ << fmt::format("         {:<8} {:<8} {}\n", "NODE", "STATUS", "WEB PODS");
    for (const std::string& node : cluster_->NodeNames()) {
      const std::string ready = NodeReady(node);
      const std::string status = ready == "True" ? "Ready" : ready == "Unknown" ? "Unknown" : "NotReady";
      out_ << fmt::format("         {:<8} {:<8} {}\n", node, status,
                          fmt::join(pods_by_node[node], ", "));
    }
    Pause();
  }

  void Pause() {
    out_.flush();
    if (paced_) std::this_thread::sleep_for(std::chrono::milliseconds(700));
  }

  int Fail(const absl::Status& status) {
    err_ << "error: " << status.message() << "\n";
    return kExitFailure;
  }

  std::ostream& out_;
  std::ostream& err_;
  const bool paced_;
  std::unique_ptr<Cluster> cluster_;
  absl::Time start_;
  std::vector<std::string> summary_;
};

}  // namespace

int RunDemo(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  bool fast = false;
  for (const std::string& arg : args) {
    if (arg == "--fast") {
      fast = true;
    } else if (arg == "-h" || arg == "--help") {
      out << "usage: orchctl demo [--fast]\n\nRuns a built-in story on an in-process cluster "
             "in virtual time and narrates it.\n  --fast  no pauses between lines (there are "
             "none on a pipe)\n";
      return kExitOk;
    } else {
      err << "error: unknown flag " << arg << "\nusage: orchctl demo [--fast]\n";
      return kExitUsage;
    }
  }
  const bool terminal = &out == &std::cout && ::isatty(STDOUT_FILENO) == 1;
  return Demo(out, err, terminal && !fast).Run();
}

}  // namespace orch::orchctl
