// DefaultBinder: binds a pod by writing spec.nodeName, with a compare-and-swap on the
// resourceVersion the scheduler decided on. If the pod changed since (kAborted), the bind
// fails and the scheduler unreserves the pod and tries it again with what changed.
#include "fmt/format.h"
#include "orch/client/client.h"
#include "scheduler/plugins/factories.h"

namespace orch::scheduler::plugins {
namespace {

class DefaultBinder final : public BindPlugin {
 public:
  explicit DefaultBinder(Handle& handle) : handle_(handle) {}
  std::string_view Name() const override { return kDefaultBinder; }

  Status Bind(CycleState& state, const PodInfo& pod, const std::string& node_name) override {
    client::Client* client = handle_.client();
    if (client == nullptr) return Status();  // a what-if run: nothing to write
    absl::StatusOr<std::string> written = client->Bind(pod.pod(), node_name);
    if (!written.ok()) {
      return Status::Error(written.status(), fmt::format("binding pod {}/{} to node {}",
                                                         pod.namespace_(), pod.name(), node_name));
    }
    // Only a bind made against the pod's own version (a compare-and-swap on it) wrote
    // exactly that pod plus the binding; one without a version bound whatever was stored.
    if (!pod.pod().metadata().resource_version().empty()) {
      auto bound = std::make_unique<BoundVersion>();
      bound->resource_version = *std::move(written);
      state.Write(kBoundVersionKey, std::move(bound));
    }
    return Status();
  }

 private:
  Handle& handle_;
};

}  // namespace

FactoryResult NewDefaultBinder(const PluginArgs& args, Handle& handle) {
  return std::make_unique<DefaultBinder>(handle);
}

}  // namespace orch::scheduler::plugins
