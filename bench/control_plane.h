// A MemoryStore, a typed client and shared informers on one VirtualExecutor: what the
// benchmarks that drive orch's parts in virtual time start from. A fixture: members are
// public; informers go first when it is destroyed (declared last).
#ifndef ORCH_BENCH_CONTROL_PLANE_H_
#define ORCH_BENCH_CONTROL_PLANE_H_

#include <memory>
#include <string>

#include "fmt/format.h"

#include "orch/api/scheme.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"
#include "orch/client/informer.h"
#include "orch/store/memory_store.h"

namespace orch::bench {

struct ControlPlane {
  // `options.clock` is set to the executor's virtual clock.
  explicit ControlPlane(store::MemoryStoreOptions options = {}) {
    options.clock = &executor.clock();
    store = store::MemoryStore::Open(options).value();
    client = std::make_unique<client::Client>(store.get(), &api::Scheme::Builtin(),
                                              &executor.clock());
    informers = std::make_unique<client::SharedInformerFactory>(client.get(), &executor);
  }

  VirtualExecutor executor;
  std::unique_ptr<store::MemoryStore> store;
  std::unique_ptr<client::Client> client;
  std::unique_ptr<client::SharedInformerFactory> informers;
};

// Pod `prefix`-`i` in namespace default, the shape of scheduler_bench's default pod: one
// "pause" container with a port and equal requests and limits.
inline api::v1::Pod BasePod(const std::string& prefix, int i, const std::string& cpu = "100m",
                     const std::string& memory = "500Mi") {
  api::v1::Pod pod;
  pod.mutable_metadata()->set_name(fmt::format("{}-{}", prefix, i));
  pod.mutable_metadata()->set_namespace_("default");
  api::v1::Container& c = *pod.mutable_spec()->add_containers();
  c.set_name("pause");
  c.set_image("registry.k8s.io/pause:3.9");
  c.add_ports()->set_container_port(80);
  for (auto* list : {c.mutable_resources()->mutable_requests(),
                     c.mutable_resources()->mutable_limits()}) {
    (*list)["cpu"].set_value(cpu);
    (*list)["memory"].set_value(memory);
  }
  return pod;
}

}  // namespace orch::bench

#endif  // ORCH_BENCH_CONTROL_PLANE_H_
