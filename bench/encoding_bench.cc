// What a write's encoding costs: the deterministic bytes of an object and the Client's
// check that its strings are UTF-8 (client/string_check.h), which every write runs on
// those bytes; and, for the pod, the two ways a reader can come by its decoded form: a copy
// of the writer's object (what Client::Bind hands the informers) or a parse of the bytes.
// The objects are what scheduler_bench writes per pod: the pod as bound (the pod of its
// SchedulingBasic case, after defaulting, with nodeName and PodScheduled) and its
// "Scheduled" Event, both read back from a store they were written to.
#include <string>

#include "benchmark/benchmark.h"
#include "client/string_check.h"
#include "control_plane.h"
#include "orch/api/encoding.h"
#include "orch/api/v1/core.pb.h"
#include "orch/client/events.h"

namespace orch::bench {
namespace {

struct Written {
  api::v1::Pod pod;
  api::v1::Event event;
};

const Written& Objects() {
  static const Written* const written = [] {
    ControlPlane cp;
    api::v1::Pod pod = cp.client->Create(BasePod("pod", 17)).value();
    if (!cp.client->Bind(pod, "node-00042").ok()) std::abort();
    client::EventRecorder events(cp.client.get(), "default-scheduler");
    if (!events.Record(pod, client::kEventNormal, "Scheduled",
                       "Successfully assigned default/pod-17 to node-00042")
             .ok()) {
      std::abort();
    }
    auto* out = new Written;
    out->pod = cp.client->Get<api::v1::Pod>("default", "pod-17").value();
    out->event = cp.client->List<api::v1::Event>("default").value().items.at(0);
    return out;
  }();
  return *written;
}

template <typename T>
const T& Object();
template <>
const api::v1::Pod& Object() { return Objects().pod; }
template <>
const api::v1::Event& Object() { return Objects().event; }

// The bytes a write stores (the encoding without the check).
template <typename T>
void BM_Encode(benchmark::State& state) {
  const T& object = Object<T>();
  for (auto _ : state) benchmark::DoNotOptimize(api::DeterministicBytes(object));
  state.counters["bytes"] = static_cast<double>(object.ByteSizeLong());
}

// What the check adds to each write: the walk of those bytes.
template <typename T>
void BM_CheckStrings(benchmark::State& state) {
  const T& object = Object<T>();
  const client::internal::StringCheck check(api::Scheme::Builtin());
  const std::string bytes = api::DeterministicBytes(object);
  for (auto _ : state) benchmark::DoNotOptimize(check.Check(object, bytes));
}

// A deep copy of the object, as a write that starts from the caller's copy makes.
template <typename T>
void BM_Copy(benchmark::State& state) {
  const T& object = Object<T>();
  for (auto _ : state) {
    T copy = object;
    benchmark::DoNotOptimize(copy);
  }
}

// A decode of the stored bytes, as an informer makes of a change it was not handed.
template <typename T>
void BM_Parse(benchmark::State& state) {
  const std::string bytes = api::DeterministicBytes(Object<T>());
  for (auto _ : state) {
    T parsed;
    benchmark::DoNotOptimize(parsed.ParseFromString(bytes));
  }
}

BENCHMARK_TEMPLATE(BM_Encode, api::v1::Pod);
BENCHMARK_TEMPLATE(BM_Copy, api::v1::Pod);
BENCHMARK_TEMPLATE(BM_Parse, api::v1::Pod);
BENCHMARK_TEMPLATE(BM_CheckStrings, api::v1::Pod);
BENCHMARK_TEMPLATE(BM_Encode, api::v1::Event);
BENCHMARK_TEMPLATE(BM_CheckStrings, api::v1::Event);

}  // namespace
}  // namespace orch::bench
