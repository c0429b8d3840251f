// A MemoryStore, a typed client and shared informers on one VirtualExecutor: what the
// benchmarks that drive orch's parts in virtual time start from. A fixture: members are
// public; informers go first when it is destroyed (declared last).
#ifndef ORCH_BENCH_CONTROL_PLANE_H_
#define ORCH_BENCH_CONTROL_PLANE_H_

#include <memory>

#include "orch/api/scheme.h"
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

}  // namespace orch::bench

#endif  // ORCH_BENCH_CONTROL_PLANE_H_
