#include "orch/node/service_proxy.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fmt/format.h"
#include "orch/api/labels.h"
#include "orch/api/selector.h"
#include "orch/api/v1/core.pb.h"
#include "orch/api/v1/discovery.pb.h"
#include "orch/base/mutex.h"

namespace orch::node {

namespace {

namespace v1 = api::v1;

constexpr absl::Duration kMaxRetryDelay = absl::Seconds(30);

// The rule for `service` from its slices; nullopt when it is not to be programmed.
std::optional<network::ServiceRule> RuleFor(
    const v1::Service& service, const std::vector<std::shared_ptr<const v1::EndpointSlice>>& slices) {
  const v1::ServiceSpec& spec = service.spec();
  if (spec.type() == "ExternalName" || spec.cluster_ip().empty() || spec.cluster_ip() == "None") {
    return std::nullopt;
  }
  network::ServiceRule rule;
  rule.ns = service.metadata().namespace_();
  rule.name = service.metadata().name();
  rule.cluster_ip = spec.cluster_ip();
  rule.session_affinity = spec.session_affinity().empty() ? "None" : spec.session_affinity();
  if (spec.session_affinity_config().client_ip().has_timeout_seconds()) {
    rule.affinity_timeout_seconds = spec.session_affinity_config().client_ip().timeout_seconds();
  }
  for (const v1::ServicePort& sp : spec.ports()) {
    network::ServicePortRule& port = rule.ports.emplace_back();
    port.name = sp.name();
    port.protocol = sp.protocol().empty() ? "TCP" : sp.protocol();
    port.port = sp.port();
    port.node_port = sp.node_port();
    for (const auto& slice : slices) {
      for (const v1::EndpointPort& ep : slice->ports()) {
        const std::string protocol = ep.has_protocol() ? ep.protocol() : "TCP";
        if (ep.name() != port.name || protocol != port.protocol) continue;
        for (const v1::Endpoint& e : slice->endpoints()) {
          if (e.addresses().empty()) continue;
          network::Backend& b = port.backends.emplace_back();
          b.address = e.addresses(0);
          b.port = ep.port();
          b.ready = e.conditions().ready();
          b.serving = e.conditions().has_serving() ? e.conditions().serving() : b.ready;
          b.terminating = e.conditions().terminating();
          b.node = e.node_name();
          if (e.target_ref().kind() == "Pod") {
            b.pod = e.target_ref().namespace_() + "/" + e.target_ref().name();
          }
        }
      }
    }
    std::sort(port.backends.begin(), port.backends.end(),
              [](const network::Backend& a, const network::Backend& b) {
                return std::tie(a.address, a.port) < std::tie(b.address, b.port);
              });
  }
  return rule;
}

class ServiceProxyImpl final : public ServiceProxy {
 public:
  struct State {
    State(ServiceProxyOptions options, client::Lister<v1::Service> services,
          client::Lister<v1::EndpointSlice> slices)
        : options(options), services(std::move(services)), slices(std::move(slices)) {}

    const ServiceProxyOptions options;
    client::Lister<v1::Service> services;
    client::Lister<v1::EndpointSlice> slices;
    Mutex mu;
    std::map<std::pair<std::string, std::string>, TimerId> retries ABSL_GUARDED_BY(mu);
    std::map<std::pair<std::string, std::string>, absl::Duration> delays ABSL_GUARDED_BY(mu);
    std::atomic<int64_t> syncs{0};
    std::atomic<int64_t> failures{0};
    bool stopped ABSL_GUARDED_BY(mu) = false;

    void Sync(const std::string& ns, const std::string& name, std::shared_ptr<State> self);
  };

  ServiceProxyImpl(std::shared_ptr<State> state, client::Informer<v1::Service> services,
                   client::Informer<v1::EndpointSlice> slices)
      : state_(std::move(state)), services_(std::move(services)), slices_(std::move(slices)) {}

  ~ServiceProxyImpl() override {
    services_.RemoveEventHandler(service_handler_);
    slices_.RemoveEventHandler(slice_handler_);
    MutexLock lock(&state_->mu);
    state_->stopped = true;
    for (const auto& [key, timer] : state_->retries) state_->options.executor->Cancel(timer);
    state_->retries.clear();
  }

  void Install() {
    std::shared_ptr<State> state = state_;
    auto on_service = [state](const std::shared_ptr<const v1::Service>& s) {
      state->Sync(s->metadata().namespace_(), s->metadata().name(), state);
    };
    service_handler_ = services_.AddEventHandler(
        {.on_add = on_service,
         .on_update = [on_service](const auto&, const auto& s) { on_service(s); },
         .on_delete = on_service});
    auto on_slice = [state](const std::shared_ptr<const v1::EndpointSlice>& s) {
      auto it = s->metadata().labels().find(api::kLabelServiceName);
      if (it != s->metadata().labels().end()) {
        state->Sync(s->metadata().namespace_(), it->second, state);
      }
    };
    slice_handler_ = slices_.AddEventHandler(
        {.on_add = on_slice,
         .on_update =
             [on_slice](const auto& old_slice, const auto& s) {
               on_slice(old_slice);
               on_slice(s);
             },
         .on_delete = on_slice});
  }

  int64_t syncs() const override { return state_->syncs.load(); }
  int64_t failures() const override { return state_->failures.load(); }

 private:
  std::shared_ptr<State> state_;
  client::Informer<v1::Service> services_;
  client::Informer<v1::EndpointSlice> slices_;
  client::HandlerId service_handler_ = 0;
  client::HandlerId slice_handler_ = 0;
};

void ServiceProxyImpl::State::Sync(const std::string& ns, const std::string& name,
                                   std::shared_ptr<State> self) {
  const auto key = std::make_pair(ns, name);
  {
    MutexLock lock(&mu);
    if (stopped) return;
    if (auto it = retries.find(key); it != retries.end()) {
      options.executor->Cancel(it->second);
      retries.erase(it);
    }
  }
  absl::StatusOr<std::shared_ptr<const v1::Service>> service = services.Get(ns, name);
  std::optional<network::ServiceRule> rule;
  if (service.ok()) {
    google::protobuf::Map<std::string, std::string> selector;
    selector[api::kLabelServiceName] = name;
    rule = RuleFor(**service, slices.ListInNamespace(ns, api::LabelSelector::FromMap(selector)));
  }
  const absl::Status status = rule.has_value() ? options.network->SyncService(*rule)
                                               : options.network->DeleteService(ns, name);
  ++syncs;
  MutexLock lock(&mu);
  if (status.ok()) {
    delays.erase(key);
    return;
  }
  ++failures;
  if (stopped) return;
  absl::Duration& delay = delays[key];
  delay = delay == absl::ZeroDuration() ? options.retry_delay : std::min(2 * delay, kMaxRetryDelay);
  std::weak_ptr<State> weak = self;
  retries[key] = options.executor->PostAfter(delay, [weak, ns, name] {
    if (std::shared_ptr<State> state = weak.lock()) {
      {
        MutexLock lock(&state->mu);
        state->retries.erase({ns, name});
      }
      state->Sync(ns, name, state);
    }
  });
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServiceProxy>> ServiceProxy::Create(ServiceProxyOptions options) {
  if (options.informers == nullptr || options.network == nullptr || options.executor == nullptr) {
    return absl::InvalidArgumentError(
        "service proxy: informers, network and executor are required");
  }
  ORCH_ASSIGN_OR_RETURN(auto services, options.informers->InformerFor<v1::Service>());
  ORCH_ASSIGN_OR_RETURN(auto slices, options.informers->InformerFor<v1::EndpointSlice>());
  auto state =
      std::make_shared<ServiceProxyImpl::State>(options, services.lister(), slices.lister());
  auto proxy = std::make_unique<ServiceProxyImpl>(state, services, slices);
  proxy->Install();
  return proxy;
}

}  // namespace orch::node
