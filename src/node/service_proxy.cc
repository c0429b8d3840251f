#include "orch/node/service_proxy.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
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
  using Key = std::pair<std::string, std::string>;  // (namespace, name)

  struct State {
    State(ServiceProxyOptions options, client::Lister<v1::Service> services,
          client::Lister<v1::EndpointSlice> slices)
        : options(options), services(std::move(services)), slices(std::move(slices)) {}

    const ServiceProxyOptions options;
    client::Lister<v1::Service> services;
    client::Lister<v1::EndpointSlice> slices;
    Mutex mu;
    // Services changed since the last flush, and whether a flush is posted.
    std::set<Key> dirty ABSL_GUARDED_BY(mu);
    bool flush_posted ABSL_GUARDED_BY(mu) = false;
    // A Service the network refused waits for its retry (or its next change).
    std::map<Key, TimerId> retries ABSL_GUARDED_BY(mu);
    std::map<Key, absl::Duration> delays ABSL_GUARDED_BY(mu);
    std::atomic<int64_t> syncs{0};
    std::atomic<int64_t> failures{0};
    bool stopped ABSL_GUARDED_BY(mu) = false;
    // Until both informers have synced (and SyncAll has succeeded), changes wait for it.
    bool services_synced ABSL_GUARDED_BY(mu) = false;
    bool slices_synced ABSL_GUARDED_BY(mu) = false;
    bool all_synced ABSL_GUARDED_BY(mu) = false;
    std::optional<TimerId> full_retry ABSL_GUARDED_BY(mu);
    absl::Duration full_delay ABSL_GUARDED_BY(mu);
    // Held from reading the listers until the network has the result, so that two syncs
    // never reach the network in the opposite order of what they read.
    Mutex sync_mu;

    void Changed(const Key& key, const std::shared_ptr<State>& self);
    void PostFlush(const std::shared_ptr<State>& self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
    void Flush(const std::shared_ptr<State>& self);
    void Synced(bool services, const std::shared_ptr<State>& self);
    void SyncAll(const std::shared_ptr<State>& self);
    // The change that puts `keys` right: a rule per Service to program, the rest deleted.
    network::ServiceChanges ChangesFor(const std::vector<Key>& keys);
    std::optional<network::ServiceRule> Rule(const v1::Service& service);
    // Counts the outcome; on an error returns the next retry delay (from `delay`).
    std::optional<absl::Duration> Done(const absl::Status& status, absl::Duration& delay)
        ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
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
    if (state_->full_retry.has_value()) state_->options.executor->Cancel(*state_->full_retry);
  }

  void Install() {
    std::shared_ptr<State> state = state_;
    auto on_service = [state](const std::shared_ptr<const v1::Service>& s) {
      state->Changed({s->metadata().namespace_(), s->metadata().name()}, state);
    };
    service_handler_ = services_.AddEventHandler(
        {.on_add = on_service,
         .on_update = [on_service](const auto&, const auto& s) { on_service(s); },
         .on_delete = on_service,
         .on_synced = [state] { state->Synced(/*services=*/true, state); }});
    auto on_slice = [state](const std::shared_ptr<const v1::EndpointSlice>& s) {
      auto it = s->metadata().labels().find(api::kLabelServiceName);
      if (it != s->metadata().labels().end()) {
        state->Changed({s->metadata().namespace_(), it->second}, state);
      }
    };
    slice_handler_ = slices_.AddEventHandler(
        {.on_add = on_slice,
         .on_update =
             [on_slice](const auto& old_slice, const auto& s) {
               on_slice(old_slice);
               on_slice(s);
             },
         .on_delete = on_slice,
         .on_synced = [state] { state->Synced(/*services=*/false, state); }});
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

std::optional<network::ServiceRule> ServiceProxyImpl::State::Rule(const v1::Service& service) {
  google::protobuf::Map<std::string, std::string> selector;
  selector[api::kLabelServiceName] = service.metadata().name();
  return RuleFor(service, slices.ListInNamespace(service.metadata().namespace_(),
                                                 api::LabelSelector::FromMap(selector)));
}

std::optional<absl::Duration> ServiceProxyImpl::State::Done(const absl::Status& status,
                                                            absl::Duration& delay) {
  ++syncs;
  if (status.ok()) {
    delay = absl::ZeroDuration();
    return std::nullopt;
  }
  ++failures;
  if (stopped) return std::nullopt;
  delay = delay == absl::ZeroDuration() ? options.retry_delay : std::min(2 * delay, kMaxRetryDelay);
  return delay;
}

void ServiceProxyImpl::State::Changed(const Key& key, const std::shared_ptr<State>& self) {
  MutexLock lock(&mu);
  if (stopped) return;
  if (auto it = retries.find(key); it != retries.end()) {
    options.executor->Cancel(it->second);
    retries.erase(it);
  }
  dirty.insert(key);
  if (all_synced) PostFlush(self);
}

void ServiceProxyImpl::State::PostFlush(const std::shared_ptr<State>& self) {
  if (flush_posted) return;
  flush_posted = true;
  std::weak_ptr<State> weak = self;
  options.executor->Post([weak] {
    if (std::shared_ptr<State> state = weak.lock()) state->Flush(state);
  });
}

network::ServiceChanges ServiceProxyImpl::State::ChangesFor(const std::vector<Key>& keys) {
  network::ServiceChanges changes;
  for (const auto& [ns, name] : keys) {
    absl::StatusOr<std::shared_ptr<const v1::Service>> service = services.Get(ns, name);
    std::optional<network::ServiceRule> rule;
    if (service.ok()) rule = Rule(**service);
    if (rule.has_value()) {
      changes.synced.push_back(std::move(*rule));
    } else {
      changes.deleted.emplace_back(ns, name);
    }
  }
  return changes;
}

void ServiceProxyImpl::State::Flush(const std::shared_ptr<State>& self) {
  std::vector<Key> keys;
  {
    MutexLock lock(&mu);
    flush_posted = false;
    if (stopped || !all_synced) return;
    keys.assign(dirty.begin(), dirty.end());
    dirty.clear();
  }
  if (keys.empty()) return;
  // The changes that came together go in one call; when the network refuses it, each
  // Service on its own, so that one it cannot take holds up no other.
  std::vector<std::pair<Key, absl::Status>> outcomes;
  {
    MutexLock sync_lock(&sync_mu);
    absl::Status status = options.network->SyncServices(ChangesFor(keys));
    if (status.ok() || keys.size() == 1) {
      for (const Key& key : keys) outcomes.emplace_back(key, status);
    } else {
      for (const Key& key : keys) {
        outcomes.emplace_back(key, options.network->SyncServices(ChangesFor({key})));
      }
    }
  }
  MutexLock lock(&mu);
  for (const auto& [key, status] : outcomes) {
    const std::optional<absl::Duration> retry = Done(status, delays[key]);
    if (!retry.has_value()) {
      delays.erase(key);
      continue;
    }
    std::weak_ptr<State> weak = self;
    retries[key] = options.executor->PostAfter(*retry, [weak, key = key] {
      if (std::shared_ptr<State> state = weak.lock()) {
        {
          MutexLock lock(&state->mu);
          state->retries.erase(key);
        }
        state->Changed(key, state);
      }
    });
  }
}

void ServiceProxyImpl::State::Synced(bool services_informer, const std::shared_ptr<State>& self) {
  {
    MutexLock lock(&mu);
    (services_informer ? services_synced : slices_synced) = true;
    if (!services_synced || !slices_synced || all_synced) return;
  }
  SyncAll(self);
}

void ServiceProxyImpl::State::SyncAll(const std::shared_ptr<State>& self) {
  {
    MutexLock lock(&mu);
    if (stopped) return;
    full_retry.reset();
    // Every change so far is in the listers this reads; later ones are flushed after.
    all_synced = true;
    dirty.clear();
  }
  absl::Status status;
  {
    MutexLock sync_lock(&sync_mu);
    std::vector<network::ServiceRule> rules;
    for (const std::shared_ptr<const v1::Service>& service : services.List()) {
      if (std::optional<network::ServiceRule> rule = Rule(*service)) {
        rules.push_back(std::move(*rule));
      }
    }
    status = options.network->SyncAll(rules);
  }
  MutexLock lock(&mu);
  const std::optional<absl::Duration> retry = Done(status, full_delay);
  if (!status.ok()) all_synced = false;  // changes wait for the retry, which covers them
  if (!retry.has_value()) {
    if (status.ok() && !dirty.empty()) PostFlush(self);
    return;
  }
  std::weak_ptr<State> weak = self;
  full_retry = options.executor->PostAfter(*retry, [weak] {
    if (std::shared_ptr<State> state = weak.lock()) state->SyncAll(state);
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
