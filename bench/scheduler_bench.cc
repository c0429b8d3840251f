// Scheduler throughput, end to end, on workloads shaped like kube-scheduler's scheduler_perf
// suite (test/integration/scheduler_perf): nodes of 4 cpu / 32Gi / 110 pods, pods of
// 100m / 500Mi unless a case says otherwise, the same templates and counts. Every case
// creates its pods in a MemoryStore through the typed client, and the Scheduler — informers,
// queue, default profile (every feasible node evaluated), binding by compare-and-swap,
// Events — places them; all on one thread, driven by a VirtualExecutor whose clock moves
// on with the real time the work takes (as a live process's would), and skips ahead while
// the scheduler only waits (backoff, graceful deletion).
//
// pods_per_second = measured pods bound / wall time from the moment the measured pods are
// in the store (created, not yet seen by the informers) to the last one's binding — as
// scheduler_perf, where the API server creates pods on other cores, measures the scheduler.
// That time holds the informers' decoding, the queue, scheduling, binding through the
// store and the Events, and, where a case has churn (PreemptionAsync, Unschedulable),
// the cycles of the pods created in the background. Targets (issue 3): SchedulingBasic
// 5000 nodes / 10,000 pods >= 50,000/s; Heterogeneous >= 5,000/s at 5,000 nodes; every
// other case >= 20x the kube-scheduler threshold named in its comment.
//
//   build/bench/scheduler_bench --benchmark_filter=5000Nodes
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "control_plane.h"
#include "fmt/format.h"
#include "perf_window.h"
#include "rss.h"
#include "orch/api/codec.h"
#include "orch/api/v1/core.pb.h"
#include "orch/api/v1/scheduling.pb.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"
#include "orch/client/informer.h"
#include "orch/scheduler/scheduler.h"

namespace orch::scheduler {
namespace {

// The PriorityClass of the pods that preempt (value 10).
constexpr char kHighPriority[] = "high";

using bench::BasePod;
using PodTemplate = std::function<api::v1::Pod(int index)>;

api::v1::Node MakeNode(int i, const std::vector<std::string>& zones) {
  api::v1::Node node;
  const std::string name = fmt::format("node-{:05d}", i);
  node.mutable_metadata()->set_name(name);
  (*node.mutable_metadata()->mutable_labels())["kubernetes.io/hostname"] = name;
  if (!zones.empty()) {
    (*node.mutable_metadata()->mutable_labels())["topology.kubernetes.io/zone"] =
        zones[static_cast<size_t>(i) % zones.size()];
  }
  for (auto* list : {node.mutable_status()->mutable_capacity(),
                     node.mutable_status()->mutable_allocatable()}) {
    (*list)["cpu"].set_value("4");
    (*list)["memory"].set_value("32Gi");
    (*list)["pods"].set_value("110");
  }
  return node;
}

api::v1::PodSpec SpecFromYaml(std::string_view yaml) {
  api::v1::PodSpec spec;
  if (!api::DecodeMessage(yaml, "bench", spec).ok()) std::abort();
  return spec;
}

// One cluster: store, client, informers, scheduler, on a virtual executor.
class Cluster {
 public:
  // Tasks run between two moves of the clock: few enough that timers fire close to when
  // they are due.
  static constexpr size_t kTasksPerSlice = 16;

  explicit Cluster(int nodes, const std::vector<std::string>& zones = {})
      : cp_({.history_limit = 10000}) {
    SchedulerOptions scheduler_options;
    scheduler_options.client = cp_.client.get();
    scheduler_options.informers = cp_.informers.get();
    scheduler_options.executor = &cp_.executor;
    scheduler_ = Scheduler::Create(std::move(scheduler_options)).value();
    if (!scheduler_->Start().ok()) std::abort();
    // Binds counted by name prefix ("pod" for pod-17): which of the pods bound were the
    // measured ones.
    auto pods = cp_.informers->InformerFor<api::v1::Pod>();
    if (!pods.ok()) std::abort();
    pods->AddEventHandler({.on_update = [this](const auto& before, const auto& after) {
      if (!before->spec().node_name().empty() || after->spec().node_name().empty()) return;
      const std::string& name = after->metadata().name();
      ++bound_[name.substr(0, name.rfind('-'))];
    }});
    cp_.informers->Start();
    for (const char* ns : {"sched-0", "sched-1"}) {
      api::v1::Namespace n;
      n.mutable_metadata()->set_name(ns);
      if (!cp_.client->Create(n).ok()) std::abort();
    }
    for (int i = 0; i < nodes; ++i) {
      if (!cp_.client->Create(MakeNode(i, zones)).ok()) std::abort();
    }
    // The preempting pods' priority (10) comes from this class, as Priority admission wants.
    api::v1::PriorityClass high;
    high.mutable_metadata()->set_name(kHighPriority);
    high.set_value(10);
    if (!cp_.client->Create(high).ok()) std::abort();
    cp_.executor.RunUntilIdle();
  }
  ~Cluster() {
    scheduler_.reset();
    cp_.informers.reset();
  }

  void Create(int count, const PodTemplate& make) {
    for (int i = 0; i < count; ++i) {
      absl::StatusOr<api::v1::Pod> created = cp_.client->Create(make(i));
      if (!created.ok()) {
        fmt::print(stderr, "creating a pod: {}\n", created.status().ToString());
        std::abort();
      }
    }
  }

  // Runs until `bound` more pods whose names start with `prefix` are bound than when
  // called, as a live scheduler on one thread would: the virtual clock moves on by the real
  // time each slice of work takes (so backoffs and graceful deletions end while pods are
  // still being scheduled), and jumps ahead a second at a time while nothing is ready. A
  // `churn` pod is created every `churn_every` of that time, if given. Returns false if
  // nothing binds for 30 virtual minutes.
  bool RunUntilBound(const std::string& prefix, int64_t bound, const PodTemplate& churn = nullptr,
                     absl::Duration churn_every = absl::ZeroDuration()) {
    const int64_t target = bound_[prefix] + bound;
    absl::Time last_progress = cp_.executor.clock().Now();
    absl::Time next_churn = cp_.executor.clock().Now();
    int churned = 0;
    int64_t last = bound_[prefix];
    while (bound_[prefix] < target) {
      if (churn != nullptr) {
        for (; next_churn <= cp_.executor.clock().Now(); next_churn += churn_every) {
          Create(1, [&](int) { return churn(churned++); });
        }
      }
      const auto start = std::chrono::steady_clock::now();
      const size_t ran = cp_.executor.RunReady(kTasksPerSlice);
      cp_.executor.virtual_clock().Advance(absl::FromChrono(std::chrono::steady_clock::now() - start));
      const int64_t now_bound = bound_[prefix];
      if (now_bound >= target) break;
      if (now_bound != last) {
        last = now_bound;
        last_progress = cp_.executor.clock().Now();
      } else if (cp_.executor.clock().Now() - last_progress > absl::Minutes(30)) {
        return false;
      }
      if (ran == 0) {
        cp_.executor.AdvanceBy(churn != nullptr ? std::min(absl::Seconds(1), churn_every)
                                             : absl::Seconds(1));
      }
    }
    return true;
  }

  SchedulerStats stats() const { return scheduler_->stats(); }

 private:
  bench::ControlPlane cp_;
  std::unique_ptr<Scheduler> scheduler_;
  std::map<std::string, int64_t> bound_;  // by name prefix
};

struct Size;

struct Workload {
  explicit Workload(const Size& size);
  int nodes = 0;
  std::vector<std::string> zones;
  int init_pods = 0;
  PodTemplate init;
  int measure_pods = 0;
  PodTemplate measure;
  // Pods created in the background while the measured ones are scheduled (scheduler_perf's
  // churn), one every churn_every.
  PodTemplate churn;
  absl::Duration churn_every = absl::ZeroDuration();
};

// The name prefix of a template's pods ("pod" for pod-0).
std::string Prefix(const PodTemplate& make) {
  const std::string name = make(0).metadata().name();
  return name.substr(0, name.rfind('-'));
}

// Runs the cluster until every measured pod is bound, with the churn arriving meanwhile.
bool ScheduleMeasuredPods(Cluster& cluster, const Workload& w) {
  return cluster.RunUntilBound(Prefix(w.measure), w.measure_pods, w.churn, w.churn_every);
}

// The measured part, in a frame of its own that a profiler can be pointed at: perf through
// PerfWindow, callgrind with --collect-atstart=no --toggle-collect='*MeasuredRun*'.
[[gnu::noinline]] bool MeasuredRun(Cluster& cluster, const Workload& w) {
  bench::PerfWindow profiled;
  return ScheduleMeasuredPods(cluster, w);
}

// How fast this machine runs right now, for reading a run's figure: a fixed loop of plain
// protobuf work (copy a pod, encode it, decode it) for 40 ms, in round trips per
// microsecond. A shared machine has stretches in which busy code (this loop, the
// scheduler) runs about 1.6 times slower; a run is comparable with another only if the
// loop ran at the same speed around both.
double MachineSpeed() {
  const api::v1::Pod pod = BasePod("reference", 0);
  const auto start = std::chrono::steady_clock::now();
  const auto until = start + std::chrono::milliseconds(40);
  int64_t round_trips = 0;
  std::string bytes;
  auto now = start;
  for (; now < until; now = std::chrono::steady_clock::now()) {
    for (int i = 0; i < 64; ++i, ++round_trips) {
      api::v1::Pod copy(pod);
      copy.SerializeToString(&bytes);
      api::v1::Pod decoded;
      benchmark::DoNotOptimize(decoded.ParseFromString(bytes));
    }
  }
  return static_cast<double>(round_trips) /
         std::chrono::duration<double, std::micro>(now - start).count();
}

// What one run of a workload measured; `error` says which pods did not all bind.
struct RunFigures {
  const char* error = nullptr;
  double seconds = 0;
  double speed_before = 0;  // MachineSpeed just before the timed part, and just after
  double speed_after = 0;
  double rss_growth_mib = 0;
  double attempts = 0;
};

// Sets up a new cluster and times the scheduling of the measured pods on it. Only the
// timed run goes through MeasuredRun, and only it has the machine's speed taken around it.
RunFigures RunOnce(const Workload& w, bool timed) {
  Cluster cluster(w.nodes, w.zones);
  cluster.Create(w.init_pods, w.init);
  if (!cluster.RunUntilBound(Prefix(w.init), w.init_pods)) {
    return {.error = "initial pods did not all bind"};
  }
  cluster.Create(w.measure_pods, w.measure);
  const double rss_before = bench::ProcStatusMib("VmRSS");
  const double speed_before = timed ? MachineSpeed() : 0;
  const auto start = std::chrono::steady_clock::now();
  const bool done = timed ? MeasuredRun(cluster, w) : ScheduleMeasuredPods(cluster, w);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!done) return {.error = "measured pods did not all bind"};
  return {.seconds = seconds,
          .speed_before = speed_before,
          .speed_after = timed ? MachineSpeed() : 0,
          .rss_growth_mib = bench::ProcStatusMib("VmRSS") - rss_before,
          .attempts = static_cast<double>(cluster.stats().attempts)};
}

// Each case runs twice in the process, each time on a new cluster, and is timed by the
// second run. The first is a new process's: its heap grows into pages the kernel has
// never handed out, and zeroing them is dear on a virtual machine whose host backs guest
// memory only when it is first touched (up to a fifth of the run). The second reuses the
// memory the first freed, as a host process that has been running for a while does.
// `first_run_pods_per_second` is the first run's figure, and `rss_growth_mib` its growth:
// the second run grows into freed memory, which the resident size does not show.
// `machine_speed_before` and `machine_speed_after` are MachineSpeed around the timed run.
void RunWorkload(benchmark::State& state, const Workload& w) {
  for (auto _ : state) {
    RunFigures runs[2];  // the first run, then the timed one
    for (int i = 0; i < 2; ++i) {
      runs[i] = RunOnce(w, /*timed=*/i == 1);
      if (runs[i].error != nullptr) {
        state.SkipWithError(runs[i].error);
        return;
      }
    }
    const RunFigures& first = runs[0];
    const RunFigures& timed = runs[1];
    state.SetIterationTime(timed.seconds);
    const double pods = w.measure_pods;
    state.counters["pods_per_second"] = pods / timed.seconds;
    state.counters["first_run_pods_per_second"] = pods / first.seconds;
    state.counters["attempts"] = timed.attempts;
    state.counters["rss_growth_mib"] = first.rss_growth_mib;
    state.counters["machine_speed_before"] = timed.speed_before;
    state.counters["machine_speed_after"] = timed.speed_after;
  }
}

// ------------------------------------------------------------------ the cases

// Nodes, pods bound before the measurement, pods measured.
struct Size {
  int nodes = 0;
  int init = 0;
  int measure = 0;
};

Workload::Workload(const Size& size)
    : nodes(size.nodes), init_pods(size.init), measure_pods(size.measure) {}

PodTemplate Default(const std::string& prefix = "pod") {
  return [prefix](int i) { return BasePod(prefix, i); };
}

// SchedulingBasic (thresholds 680 at 5000/10,000; 810 at 5000/50,000).
void SchedulingBasic(benchmark::State& state, const Size& size) {
  Workload w(size);
  w.init = Default("init");
  w.measure = Default();
  RunWorkload(state, w);
}

// SchedulingPodAntiAffinity (threshold 60 at 5000 / 1,000 / 2,000): at most one per node.
void SchedulingPodAntiAffinity(benchmark::State& state, const Size& size) {
  const api::v1::PodSpec anti = SpecFromYaml(R"(affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [
      {labelSelector: {matchLabels: {color: green}}, topologyKey: kubernetes.io/hostname,
       namespaces: [sched-1, sched-0]}]}})");
  auto make = [anti](const std::string& prefix, const std::string& ns) {
    return [anti, prefix, ns](int i) {
      api::v1::Pod pod = BasePod(prefix, i);
      pod.mutable_metadata()->set_namespace_(ns);
      (*pod.mutable_metadata()->mutable_labels())["color"] = "green";
      pod.mutable_spec()->MergeFrom(anti);
      return pod;
    };
  };
  Workload w(size);
  w.init = make("init", "sched-0");
  w.measure = make("pod", "sched-1");
  RunWorkload(state, w);
}

// TopologySpreading (threshold 460 at 5000 / 5,000 / 5,000): maxSkew 5 over 3 zones.
void TopologySpreading(benchmark::State& state, const Size& size) {
  const api::v1::PodSpec spread = SpecFromYaml(R"(topologySpreadConstraints: [{maxSkew: 5,
      topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule,
      labelSelector: {matchLabels: {color: blue}}}])");
  Workload w(size);
  w.zones = {"moon-1", "moon-2", "moon-3"};
  w.init = Default("init");
  w.measure = [spread](int i) {
    api::v1::Pod pod = BasePod("pod", i);
    (*pod.mutable_metadata()->mutable_labels())["color"] = "blue";
    pod.mutable_spec()->MergeFrom(spread);
    return pod;
  };
  RunWorkload(state, w);
}

// SchedulingNodeAffinity (threshold 220 at 5000 / 5,000 / 10,000): every node in zone1.
void SchedulingNodeAffinity(benchmark::State& state, const Size& size) {
  const api::v1::PodSpec affinity = SpecFromYaml(R"(affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [{matchExpressions: [{key: topology.kubernetes.io/zone, operator: In,
      values: [zone1, zone2]}]}]}}})");
  Workload w(size);
  w.zones = {"zone1"};
  w.init = Default("init");
  w.measure = [affinity](int i) {
    api::v1::Pod pod = BasePod("pod", i);
    pod.mutable_spec()->MergeFrom(affinity);
    return pod;
  };
  RunWorkload(state, w);
}

// Four 900m low-priority pods fill each node; a 3-cpu high-priority pod must evict three.
api::v1::Pod LowPriority(int i) {
  api::v1::Pod pod = BasePod("low", i, "900m");
  pod.mutable_spec()->set_termination_grace_period_seconds(0);
  return pod;
}
api::v1::Pod HighPriority(int i) {
  api::v1::Pod pod = BasePod("high", i, "3000m");
  pod.mutable_spec()->set_priority_class_name(kHighPriority);
  return pod;
}

// PreemptionAsync (threshold 570 at 5000 / 20,000 / 5,000): default pods measured while
// a high-priority pod that must preempt arrives every 200 ms.
void PreemptionAsync(benchmark::State& state, const Size& size) {
  Workload w(size);
  w.init = LowPriority;
  w.measure = Default();
  w.churn = HighPriority;
  w.churn_every = absl::Milliseconds(200);
  RunWorkload(state, w);
}

// PreemptionBasic (no threshold; kube-scheduler runs it at 1000 nodes / 4,000 / 1,000):
// every measured pod preempts.
void PreemptionBasic(benchmark::State& state, const Size& size) {
  Workload w(size);
  w.init = LowPriority;
  w.measure = HighPriority;
  RunWorkload(state, w);
}

// Unschedulable (threshold 590 at 5000 / 100 / 10,000): default pods measured while a
// high-priority pod that can never fit (9 cpu on 4-cpu nodes, so preemption is tried and
// fails) arrives every 200 ms.
void Unschedulable(benchmark::State& state, const Size& size) {
  Workload w(size);
  w.init = Default("init");
  w.measure = Default();
  w.churn = [](int i) {
    api::v1::Pod pod = BasePod("large", i, "9");
    pod.mutable_spec()->set_priority_class_name(kHighPriority);
    return pod;
  };
  w.churn_every = absl::Milliseconds(200);
  RunWorkload(state, w);
}

// Heterogeneous: no two pods share a shape (requests and labels differ), so nothing can be
// reused between pods. Target >= 5,000/s at 5,000 nodes.
void Heterogeneous(benchmark::State& state, const Size& size) {
  Workload w(size);
  w.init = Default("init");
  w.measure = [](int i) {
    api::v1::Pod pod = BasePod("pod", i, fmt::format("{}m", 50 + i % 200),
                               fmt::format("{}Mi", 100 + i));
    (*pod.mutable_metadata()->mutable_labels())["shape"] = std::to_string(i);
    return pod;
  };
  RunWorkload(state, w);
}

void Register(const char* name, void (*fn)(benchmark::State&, const Size&), Size size) {
  benchmark::RegisterBenchmark(
      fmt::format("{}/{}Nodes_{}Pods", name, size.nodes, size.measure).c_str(),
      [fn, size](benchmark::State& state) { fn(state, size); })
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

void RegisterAll() {
  // Small sizes (what the CI smoke run executes), then kube-scheduler's performance sizes.
  Register("SchedulingBasic", SchedulingBasic, {500, 500, 1000});
  Register("SchedulingPodAntiAffinity", SchedulingPodAntiAffinity, {500, 100, 400});
  Register("TopologySpreading", TopologySpreading, {500, 500, 1000});
  Register("SchedulingNodeAffinity", SchedulingNodeAffinity, {500, 500, 1000});
  Register("PreemptionAsync", PreemptionAsync, {500, 2000, 500});
  Register("PreemptionBasic", PreemptionBasic, {500, 2000, 500});
  Register("Unschedulable", Unschedulable, {500, 100, 1000});
  Register("Heterogeneous", Heterogeneous, {500, 500, 1000});

  Register("SchedulingBasic", SchedulingBasic, {5000, 1000, 10000});
  Register("SchedulingBasic", SchedulingBasic, {5000, 5000, 50000});
  Register("SchedulingPodAntiAffinity", SchedulingPodAntiAffinity, {5000, 1000, 2000});
  Register("TopologySpreading", TopologySpreading, {5000, 5000, 5000});
  Register("SchedulingNodeAffinity", SchedulingNodeAffinity, {5000, 5000, 10000});
  Register("PreemptionAsync", PreemptionAsync, {5000, 20000, 5000});
  Register("PreemptionBasic", PreemptionBasic, {1000, 4000, 1000});
  Register("Unschedulable", Unschedulable, {5000, 100, 10000});
  Register("Heterogeneous", Heterogeneous, {5000, 1000, 5000});
}

// Registered at start-up (this is a program, not a library: nothing drops it).
const bool kRegistered = (RegisterAll(), true);

}  // namespace
}  // namespace orch::scheduler
